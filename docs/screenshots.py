"""The README's tour pictures: every demo user's pages in Chromium, against a running `infolit demo`.

Run the demo (it prints the logins and serves on 127.0.0.1:8000), keep its output, then::

    infolit demo --students 2000 | tee demo.log        # in one terminal (it keeps serving)
    .venv/bin/python docs/screenshots.py demo.log       # in another

For each printed login the script signs in as a user would (the student's ticket and PIN on the
student page, the staff accounts on ``/console/login``), saves the landing page and every page of
the console's navigation bar, and, for the student, the instructions and the first item on a
desktop and on a 390 px phone. Pictures go to ``docs/images/tour/`` as ``<role>-<nn>-<page>.png``,
cut at ``--max-height`` pixels and reduced to 128 colours so the README stays light. Starting a
student's test records a sitting in the demo database, as a real student would.
"""

from __future__ import annotations

import argparse
import io
import re
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, sync_playwright

ROLES = {
    "学校管理员": "school",
    "区县教育局": "county",
    "地市教育局": "city",
    "省教育厅": "province",
    "测评研究人员": "researcher",
    "系统管理员": "admin",
}
LOGIN = re.compile(r"^(学生（\d+ 年级）|" + "|".join(ROLES) + r")\s+(\S+)\s+(\S+)", re.M)


def save(page: Page, path: Path, *, width: int, max_height: int) -> None:
    """A full-page screenshot, cut at ``max_height``, scaled to ``width`` and quantised."""
    image = Image.open(io.BytesIO(page.screenshot(full_page=True))).convert("RGB")
    image = image.crop((0, 0, image.width, min(image.height, max_height)))
    if image.width > width:
        image = image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS)
    image.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    print(path)


def student(page: Page, base: str, ticket: str, pin: str, out: Path, *, phone: bool, max_height: int) -> None:
    """Sign in as a student, skip the practice and stop at the first item."""
    tag = "student-phone" if phone else "student"
    width = 390 if phone else 900
    page.goto(f"{base}/")
    page.get_by_label("准考证号").fill(ticket)
    page.get_by_label("密码").fill(pin)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("button", name="跳过练习，开始测评").wait_for()
    save(page, out / f"{tag}-01-instructions.png", width=width, max_height=max_height)
    page.get_by_role("button", name="跳过练习，开始测评").click()
    page.get_by_role("button", name="提交答案").wait_for()
    save(page, out / f"{tag}-02-item.png", width=width, max_height=max_height)


def staff(page: Page, base: str, role: str, username: str, password: str, out: Path, *, max_height: int) -> None:
    """Sign in to the console and save the landing page and each page of the navigation bar."""
    page.goto(f"{base}/console/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state("networkidle")
    save(page, out / f"{role}-00-home.png", width=900, max_height=max_height)
    links = page.locator("nav a")
    pages = [(links.nth(i).inner_text().strip(), links.nth(i).get_attribute("href") or "")
             for i in range(links.count())]  # fmt: skip
    seen: set[str] = set()
    for name, href in pages:
        path = href.split("?")[0]
        if not path.startswith("/console") or "logout" in path or name in ("退出登录", "我的账号") or path in seen:
            continue
        seen.add(path)
        page.goto(base + href)
        page.wait_for_load_state("networkidle")
        slug = re.sub(r"[^a-z0-9]+", "-", path.removeprefix("/console").lower()).strip("-") or "home"
        save(page, out / f"{role}-{len(seen):02d}-{slug}.png", width=900, max_height=max_height)


def main() -> None:
    """Read the printed logins, then take every user's pictures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("demo_output", type=Path, help="what `infolit demo` printed (its logins)")
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "images" / "tour")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--max-height", type=int, default=1800)
    args = parser.parse_args()
    logins = LOGIN.findall(args.demo_output.read_text(encoding="utf-8"))
    if not logins:
        raise SystemExit(f"no logins in {args.demo_output}: pass the output of `infolit demo`")
    args.out.mkdir(parents=True, exist_ok=True)
    students = [(t, p) for label, t, p in logins if label.startswith("学生")]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=args.chromium)
        for phone, (ticket, pin) in zip((False, True), students[:2], strict=False):
            size = {"width": 390, "height": 844} if phone else {"width": 1280, "height": 900}
            context = browser.new_context(viewport=size, device_scale_factor=2 if phone else 1, locale="zh-CN")
            student(context.new_page(), args.base, ticket, pin, args.out, phone=phone, max_height=args.max_height * 2)
            context.close()
        for label, username, password in logins:
            if label in ROLES:
                context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
                page = context.new_page()
                staff(page, args.base, ROLES[label], username, password, args.out, max_height=args.max_height)
                context.close()
        browser.close()


if __name__ == "__main__":
    main()
