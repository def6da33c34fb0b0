"""``infolit demo``: the main job end to end on the embedded default, then the web app.

Stages, each with a progress bar, each reused on a rerun when its result is there already:

1. the national simulation (:func:`web.commands.national.simulate_national`: bank, sample,
   field trial, calibration, adaptive tests), reused when the database holds a finished run;
2. plausible values and every school and region profile, stored for the consoles
   (:func:`reports.store.build_and_store`, with the replicate design
   :func:`reports.sample.choose_design` picks), reused when a build is stored;
3. every profile as PDF and XLSX in a folder (:func:`reports.folder.ensure_profile_folder`, on
   ``--workers`` processes), reused when the folder's manifest names the stored build;
4. the summary, read back from the stored profiles (so it says what the files say);
5. the demo logins (:func:`assess.simulate.demo.ensure_demo_accounts`): new passwords on every
   run, printed once, stored only hashed;
6. the web app (``infolit serve``) unless ``--no-serve``.

``--fresh`` deletes the SQLite database and the files the report folder's manifest lists, then
runs everything again.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click
from sqlalchemy.engine import make_url
from tqdm import tqdm

from itembank import db
from itembank.db import aware_utc, session_scope
from itembank.models import utcnow
from itembank.settings import get_settings
from web.commands.national import MIN_STUDENTS

if TYPE_CHECKING:
    from assess.simulate.demo import DemoLogin
    from reports.models import ProfileBuildPublic
    from reports.profile import Profile

__all__ = ["demo_command"]

_FORMATS = ("pdf", "xlsx")
_SUMMARY = (("national", "national"), ("region", "east"), ("region", "central"), ("region", "west"))


def _sqlite_files(url: str) -> list[Path]:
    """The SQLite database file of ``url`` and its journal files (empty for an in-memory database)."""
    name = make_url(url).database
    if not name or name == ":memory:":
        return []
    base = Path(name)
    return [base, *(base.with_name(base.name + suffix) for suffix in ("-wal", "-shm", "-journal"))]


def _start_over(url: str, out: Path) -> None:
    """Delete the SQLite database and the report files of an earlier run (``--fresh``)."""
    from reports.folder import remove_profile_folder

    if not url.startswith("sqlite"):
        raise click.ClickException(
            "--fresh 只删除嵌入式 SQLite 数据库；使用 PostgreSQL 时请先自行新建一个空数据库，再运行 infolit demo"
        )
    db.get_engine().dispose()
    db.get_engine.cache_clear()
    removed = [p for p in _sqlite_files(url) if p.exists()]
    for p in removed:
        p.unlink()
    files = remove_profile_folder(out)
    click.echo(f"--fresh：已删除数据库 {removed[0] if removed else '（不存在）'} 和 {files} 个报告文件，重新开始")


def _simulate(students: int, seed: int, times: dict[str, float]) -> tuple[str, int]:
    """Run the national simulation (or reuse the finished one); the operational assessment's code and id."""
    from assess.simulate.demo import count_areas, find_finished_run
    from web.commands.national import simulate_national

    with session_scope() as session:
        found = find_finished_run(session=session)
        areas = count_areas(session=session)
    if found is not None:
        total = found.students + found.field_trial_students
        note = "" if total == students else f"（共 {total:,} 人；--students {students:,} 只在重新开始时使用）"
        click.echo(
            f"复用数据库中已有的全国样本：测评 {found.assessment_code}，{found.field_trial_students:,} 人试测、"
            f"{found.students:,} 人完成自适应测评，参数标定 {found.calibration}{note}；--fresh 重新开始"
        )
        if aware_utc(found.closes_at) < utcnow():
            click.echo(
                f"注意：测评 {found.assessment_code} 已于 {found.closes_at:%Y-%m-%d} 结束，演示学生无法再开始测评；"
                "报告和控制台照常可用（--fresh 重新开始一轮）",
                err=True,
            )
        times["模拟"] = 0.0
        return found.assessment_code, found.assessment_id
    if areas:
        raise click.ClickException(
            "数据库中有一次没有完成的运行（有地区和学校，没有完成的正式测评）；用 --fresh 重新开始"
        )
    t0 = time.perf_counter()
    run = simulate_national(students, min(5_000, students // 2), seed, False)
    times["模拟"] = time.perf_counter() - t0
    return run.adaptive_assessment, run.adaptive_assessment_id


class _Steps:
    """A progress bar over the messages a build sends (latent regressions, then one per level)."""

    def __init__(self, desc: str) -> None:
        self.bar = tqdm(desc=desc, unit="步", leave=True, dynamic_ncols=True)

    def __call__(self, message: str) -> None:
        self.bar.set_postfix_str(message)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def _profiles(code: str, assessment_id: int, times: dict[str, float]) -> tuple[list[Profile], ProfileBuildPublic]:
    """Every stored profile of the assessment (built and stored first if there is no build) and the build."""
    from reports.exceptions import ReportError
    from reports.store import build_and_store, load_all_profiles, stored_build

    with session_scope() as session:
        build = stored_build(session=session, assessment_id=assessment_id)
    t0 = time.perf_counter()
    if build is not None:
        click.echo(f"复用已保存的 {build.n_profiles} 份报告数据（{build.built_at:%Y-%m-%d %H:%M} 生成）")
    else:
        steps = _Steps("合理值与报告统计")
        try:
            with session_scope() as session:
                build = build_and_store(session=session, assessment_code=code, design="auto", progress=steps)[1]
        except ReportError as exc:
            raise click.ClickException(str(exc)) from None
        finally:
            steps.close()
        click.echo(
            f"报告数据：{build.n_profiles} 份（{build.n_reported} 份给出数字，其余人数不足），"
            f"已保存供控制台查看，用时 {time.perf_counter() - t0:.0f} 秒"
        )
    with session_scope() as session:
        profiles = load_all_profiles(session=session, assessment_id=assessment_id)
    times["合理值与报告统计"] = time.perf_counter() - t0
    return profiles, build


def _files(
    profiles: list[Profile], build: ProfileBuildPublic, code: str, out: Path, workers: int, times: dict[str, float]
) -> None:
    from reports.exceptions import ReportError
    from reports.folder import ensure_profile_folder

    t0 = time.perf_counter()
    with tqdm(total=len(profiles), desc="写出 PDF 与 XLSX 报告", unit="份", leave=True, dynamic_ncols=True) as bar:
        try:
            result = ensure_profile_folder(
                profiles, out, _FORMATS, build=build, assessment_code=code, workers=workers,
                progress=lambda _k: bar.update(1), font_progress=lambda m: tqdm.write(f"  {m}"),
            )  # fmt: skip
        except ReportError as exc:
            raise click.ClickException(str(exc)) from None
        if result.reused:
            bar.update(len(profiles) - bar.n)
    times["写出报告文件"] = time.perf_counter() - t0
    if result.reused:
        click.echo(f"复用 {out.resolve()} 中已写好的 {len(result.files)} 个报告文件")
    elif result.bulk is not None:
        click.echo(
            f"{result.bulk.files} 个报告文件（{result.bulk.bytes / 2**20:.1f} MiB）写入 {out.resolve()}，"
            f"{result.bulk.workers} 个进程，用时 {result.bulk.seconds:.0f} 秒"
        )


def _summary(profiles: list[Profile], out: Path) -> tuple[str, str]:
    """Print the national and regional summary; the school code for the demo's school account, and its name."""
    from reports.render_text import format_profile_summary

    by_key = {(p.identity.level, p.identity.code): p for p in profiles}
    shown = [by_key[k] for k in _SUMMARY if k in by_key]
    design = shown[0].methods.design_name if shown else ""
    click.echo(f"\n全国与东、中、西部（由合理值估计，标准误：{design}；与报告文件中的数字相同）：")
    click.echo(format_profile_summary(shown))
    schools = [p for p in profiles if p.identity.level == "school"]
    reported = [p for p in schools if p.reported] or schools
    click.echo(
        f"\n报告文件：{out.resolve()}（每校一份：school/学校代码.pdf 与 .xlsx；区县 county/、地市 city/、"
        f"省 province/、东中西部 region/、全国 national/；{len(schools)} 所学校，{len(profiles)} 份报告）"
    )
    if not reported:
        raise click.ClickException("测评没有任何学校的报告，无法创建演示账号")
    best = max(reported, key=lambda p: (p.participation.students_assessed, p.identity.code))
    return best.identity.code, best.identity.name


def _print_logins(logins: list[DemoLogin], url: str) -> None:
    from reports.render_text import pad_cell

    click.echo(
        "\n演示账号（密码只显示这一次，数据库只保存其哈希；再次运行 infolit demo 会重新生成）。"
        f"学生在 {url}/ 登录，其他账号在 {url}/console/login："
    )
    head = ("身份", "用户名/准考证号", "密码")
    click.echo("".join(pad_cell(h, 18, right=False) for h in head) + "范围")
    for login in logins:
        extra = "（已启用动态验证码）" if login.second_factor else ""
        click.echo(
            pad_cell(login.label, 18, right=False) + pad_cell(login.username, 18, right=False)
            + pad_cell(login.password, 18, right=False) + (login.node or "全部") + extra
        )  # fmt: skip


def _accounts(code: str, school_code: str, times: dict[str, float]) -> list[DemoLogin]:
    from assess.exceptions import AssessError
    from assess.simulate.demo import ensure_demo_accounts

    t0 = time.perf_counter()
    try:
        with session_scope() as session:
            logins = ensure_demo_accounts(session=session, assessment_code=code, school_code=school_code)
    except AssessError as exc:
        raise click.ClickException(str(exc)) from None
    times["演示账号"] = time.perf_counter() - t0
    return logins


@click.command("demo")
@click.option(
    "--students",
    type=click.IntRange(min=MIN_STUDENTS),
    default=50_000,
    show_default=True,
    help=f"Sample size (at least {MIN_STUDENTS:,}: a smaller field trial cannot calibrate the bank).",
)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the PDF and XLSX reports (default: reports/ in the data folder).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1, max=64),
    default=min(2, os.cpu_count() or 1),
    show_default=True,
    help="Processes writing the reports.",
)
@click.option("--fresh", is_flag=True, help="Delete the SQLite database and the reports of an earlier run first.")
@click.option(
    "--serve/--no-serve",
    default=True,
    show_default=True,
    help="Start the web app at the end so the printed accounts can log in.",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.pass_context
def demo_command(
    ctx: click.Context, students: int, seed: int, out: Path | None, workers: int, fresh: bool, serve: bool,
    host: str, port: int,
) -> None:  # fmt: skip
    """The main job on the embedded default: bank, national sample, calibration, adaptive tests, summary.

    Then plausible values and every school and region profile (stored for the consoles, written
    as PDF and XLSX), the national and regional summary with standard errors, and a login for
    every kind of user; last the web app. A rerun reuses what is there (--fresh starts over).
    """
    from web import migrate

    t_all = time.perf_counter()
    settings = get_settings()
    folder = out if out is not None else settings.data_dir / "reports"
    if fresh:
        _start_over(settings.database_url, folder)
    engine = db.get_engine()
    click.echo(f"数据库: {engine.url.render_as_string()}")
    migrate.upgrade(engine)
    times: dict[str, float] = {}
    code, assessment_id = _simulate(students, seed, times)
    profiles, build = _profiles(code, assessment_id, times)
    _files(profiles, build, code, folder, workers, times)
    school_code, _name = _summary(profiles, folder)
    logins = _accounts(code, school_code, times)
    _print_logins(logins, f"http://{host}:{port}")
    stages = "，".join(f"{k} {v:.1f} 秒" for k, v in times.items())
    click.echo(f"\n各阶段用时：{stages}；共 {time.perf_counter() - t_all:.0f} 秒")
    click.echo(f"数据保存在 {settings.data_dir.resolve()}")
    if serve:
        from web.commands.serve import serve_command

        click.echo(f"serving: http://{host}:{port}/ （Ctrl+C 结束）")
        ctx.invoke(serve_command, host=host, port=port, workers=1, reload=False)
