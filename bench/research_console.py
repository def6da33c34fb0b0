"""A calibration of a big simulated sample, started and followed in the researcher console in Chromium.

    infolit demo --students 50000 --no-serve           # the national sample into ./data (about 3 min)
    python bench/research_console.py --data ./data      # its adaptive assessment, from the console
    python bench/research_console.py --data ./data --assessment FT...   # or its field trial

What it does
------------
1. Adds a researcher account (``bench-lab``) to the database if it has none.
2. Serves the app over that database as ``infolit serve`` does (uvicorn, the app's own job
   consumer beside it) on a free loopback port.
3. In Debian's Chromium (Playwright): logs in, opens 参数标定, fills the form (the assessment given,
   or the newest operational one), starts the run, and waits on the run page while htmx refreshes
   the progress, printing each new progress line it shows; when the results come, saves
   screenshots under ``docs/images/research/`` (``--shots DIR`` elsewhere) and prints the time
   from the click to the results, the run's own figures, and the number of plots on the page.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PASSWORD = "Bench-lab-password-1"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("data"), help="INFOLIT_DATA_DIR of the sample")
    parser.add_argument("--assessment", help="assessment code (default: the newest operational one)")
    parser.add_argument("--name", default=f"console-{time.strftime('%Y%m%d-%H%M%S')}")
    parser.add_argument("--shots", type=Path, default=REPO / "docs" / "images" / "research")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for the results")
    args = parser.parse_args(argv)

    from sqlmodel import Session, col, select

    from assess.accounts.models import StaffUser
    from assess.accounts.passwords import hash_password
    from assess.models import Assessment
    from itembank.db import make_engine
    from tests.web.serving import CHROMIUM, LAUNCH_ARGS, serve

    data = args.data.resolve()
    url = f"sqlite:///{data / 'infolit.db'}"
    engine = make_engine(url)
    with Session(engine) as s:
        if s.exec(select(StaffUser).where(StaffUser.username == "bench-lab")).first() is None:
            s.add(StaffUser(username="bench-lab", role="researcher", password_hash=hash_password(PASSWORD)))
            s.commit()
        query = select(Assessment).order_by(col(Assessment.id).desc())
        if args.assessment:
            query = query.where(Assessment.code == args.assessment)
        else:
            query = query.where(Assessment.purpose == "operational")
        assessment = s.exec(query).first()
        if assessment is None:
            raise SystemExit("no such assessment in that database")
        code = assessment.code
    engine.dispose()
    from playwright.sync_api import sync_playwright

    env = {"INFOLIT_DATABASE_URL": url, "INFOLIT_DATA_DIR": str(data), "INFOLIT_SECRET_KEY": "b" * 40}
    args.shots.mkdir(parents=True, exist_ok=True)
    print(f"research console: calibrating {code} from {data}")
    with serve("tests.web.console_app:create_console_app", env, data / "bench-server.log") as base, \
            sync_playwright() as pw:  # fmt: skip
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        page = browser.new_page(locale="zh-CN", viewport={"width": 1280, "height": 900})
        page.set_default_timeout(60_000)
        page.goto(f"{base}/console/login")
        page.get_by_label("用户名").fill("bench-lab")
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.wait_for_load_state()
        page.goto(f"{base}/console/research")
        page.get_by_label("标定名称").fill(args.name)
        page.get_by_label("作答数据来自哪个测评批次").select_option(code)
        started = time.perf_counter()
        page.get_by_role("button", name="开始标定").click()
        page.wait_for_url("**/console/research/runs/*")
        last = ""
        deadline = started + args.timeout
        while time.perf_counter() < deadline:
            status = page.locator("#run-status").inner_text()
            if status != last:
                print(f"  {time.perf_counter() - started:7.1f} s  {status}")
                last = status
            if page.locator("#run-board[hx-get]").count() == 0:
                break
            if "正在标定" in status and "EM" in status and not (args.shots / "console-progress.png").exists():
                page.screenshot(path=str(args.shots / "console-progress.png"))
            time.sleep(1.0)
        else:
            raise SystemExit("the run did not finish in time")
        took = time.perf_counter() - started
        plots = page.locator("svg.chart[role=img]").count()
        rows = page.locator("#parameters tbody tr").count()
        page.screenshot(path=str(args.shots / "console-results.png"), full_page=False)
        page.locator("figure.chart-figure").first.screenshot(path=str(args.shots / "test-information.png"))
        print(f"  results after {took:.1f} s: {rows} items in the table, {plots} plots")
        browser.close()
    return 0 if plots == 2 else 1


if __name__ == "__main__":
    os.environ.setdefault("INFOLIT_JOBS_HEARTBEAT_SECONDS", "5")
    raise SystemExit(main())
