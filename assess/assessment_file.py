"""Assessment files: a testing round (测评批次) and its blueprints as one validated TOML or JSON file.

An administrator or researcher writes the round once as a file and hands it to
``infolit assessment create --blueprint FILE``, the console's form or the staff API. It says
everything the round fixes::

    code = "2026-SPRING"
    name = "2026年春季学生信息素养测评"
    purpose = "operational"            # or "field_trial"
    grades = [4, 8]
    calibration = "national-2026"      # the published calibration it scores with (default: the newest)

    [window]                           # a time without an offset is Beijing time
    opens = 2026-05-11T08:00:00+08:00
    closes = 2026-05-22T17:00:00+08:00

    [blueprint]                        # every grade band's design (assess.blueprints.BlueprintSpec)
    mode = "adaptive"                  # or "booklets"
    min_items = 24
    max_items = 30
    se_target = 0.3
    time_limit_minutes = 45
    randomesque_k = 3                  # exposure control: randomesque ...
    sympson_hetter = false             # ... and Sympson-Hetter (`infolit exposure CODE` calibrates it)
    target_exposure = 0.25
    pilot_items = 2
    content = [{ area = "D1", min_items = 5, max_items = 9 }]   # content rules per dimension
    sub_content = [{ area = "D2.3", max_items = 3 }]          # and per sub-indicator

    [bands."3-4"]                      # a band's own values replace the shared ones
    max_items = 26
    time_limit_minutes = 40

A booklet design lists its forms per band (``booklets = [["D1.1-011", ...], ...]``, item codes
in order).

Checking takes two steps, and both list *every* problem, each with its place in the file:
:func:`parse_assessment_file` checks the file on its own (types, the window, every band's
blueprint through :func:`assess.blueprints.parse_blueprint`), and :func:`check_against_bank`
checks it against the database (the code is new, the grades lie in the framework's bands, the
calibration exists and is published, the content rules name the framework's dimensions and
sub-indicators, the bank holds enough calibrated items for each band's length and content
minima, booklet items exist). Neither writes anything; :mod:`assess.administration` stores an
assessment only from a file that passed both.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from sqlmodel import Session, col, select

from assess.banks import load_band_bank
from assess.blueprints import BlueprintSpec, parse_blueprint
from assess.exceptions import AssessError, BlueprintError, NotConfigured
from assess.models import Assessment
from itembank.framework import FrameworkSpec
from itembank.framework_store import current_framework
from itembank.models import PROVISIONAL, Calibration, Item

__all__ = [
    "MAX_FILE_BYTES",
    "PURPOSES",
    "AssessmentFile",
    "AssessmentFileError",
    "BandDesign",
    "CheckedAssessment",
    "check_against_bank",
    "example_file",
    "parse_assessment_file",
    "read_assessment_file",
]

MAX_FILE_BYTES = 256 * 1024
"""The largest assessment file read (a round with every booklet listed is a few kilobytes)."""
PURPOSES: tuple[str, ...] = ("operational", "field_trial")
"""正式测评 and 试测 (a field trial's responses calibrate the bank)."""
_TOP_KEYS = {"code", "name", "purpose", "grades", "calibration", "window", "blueprint", "bands"}
_BEIJING = timezone(timedelta(hours=8), "CST")


class AssessmentFileError(AssessError, ValueError):
    """An assessment file that cannot be used; ``problems`` lists every issue with its place in the file."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"测评文件有 {len(problems)} 处问题：" + "；".join(problems[:5]))
        self.problems = problems


@dataclass(frozen=True)
class BandDesign:
    """One grade band's blueprint and, for a booklet design, its forms (item codes in order)."""

    spec: BlueprintSpec
    booklets: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class AssessmentFile:
    """A checked assessment file (before the database has been consulted).

    ``opens_at`` and ``closes_at`` are aware UTC datetimes. ``shared`` is the ``[blueprint]``
    table, ``bands`` the raw per-band tables: the bands themselves depend on the framework in
    use and are resolved by :func:`check_against_bank`.
    """

    code: str
    name: str
    purpose: str
    grades: tuple[int, ...]
    opens_at: datetime
    closes_at: datetime
    calibration: str | None
    shared: Mapping[str, Any] = field(default_factory=dict)
    bands: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckedAssessment:
    """A file that passed every check: what :func:`assess.administration.create_assessment` stores."""

    file: AssessmentFile
    calibration_id: int | None
    calibration_name: str | None
    designs: Mapping[str, BandDesign]  # by grade band code, in band order

    @property
    def modes(self) -> tuple[str, ...]:
        """The design of each band (``adaptive`` or ``booklets``)."""
        return tuple(d.spec.mode for d in self.designs.values())


# ============================================================================================ reading
def read_assessment_file(content: bytes, *, filename: str = "") -> dict[str, Any]:
    """The document in ``content``: JSON when the name ends in ``.json`` (or the text starts with ``{``), else TOML.

    Raises
    ------
    AssessmentFileError
        Too large, not UTF-8, or not valid TOML/JSON (the parser's place of the error is given).
    """
    if len(content) > MAX_FILE_BYTES:
        raise AssessmentFileError([f"文件太大（{len(content):,} 字节，最多 {MAX_FILE_BYTES:,} 字节）"])
    if not content.strip():
        raise AssessmentFileError(["文件是空的"])
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AssessmentFileError([f"文件不是 UTF-8 编码（第 {exc.start + 1} 个字节）"]) from None
    as_json = filename.lower().endswith(".json") or (
        not filename.lower().endswith(".toml") and text.lstrip()[:1] == "{"
    )
    try:
        data: Any = json.loads(text) if as_json else tomllib.loads(text)
    except json.JSONDecodeError as exc:
        raise AssessmentFileError([f"JSON 格式错误：第 {exc.lineno} 行第 {exc.colno} 列：{exc.msg}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise AssessmentFileError([f"TOML 格式错误：{exc}"]) from None
    except RecursionError:  # both parsers recurse into nested arrays and tables
        raise AssessmentFileError(["文件嵌套太深（测评文件最多几层表和列表）"]) from None
    if not isinstance(data, dict):
        raise AssessmentFileError(["文件的最外层必须是一个表（TOML）或对象（JSON）"])
    return data


# ============================================================================================ checking the file
def _when(value: Any, where: str, problems: list[str]) -> datetime | None:
    """An aware UTC datetime from a TOML datetime or an ISO 8601 string (no offset: Beijing time)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            problems.append(f"{where}：不是日期时间（应写成 2026-05-11T08:00:00+08:00）")
            return None
    if isinstance(value, date) and not isinstance(value, datetime):
        problems.append(f"{where}：需要日期和时间，不只是日期")
        return None
    if not isinstance(value, datetime):
        problems.append(f"{where}：缺少或不是日期时间")
        return None
    stamp: datetime = value if value.tzinfo is not None else value.replace(tzinfo=_BEIJING)
    return stamp.astimezone(UTC)


def _text(data: Mapping[str, Any], key: str, limit: int, problems: list[str]) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{key}：必填，应为文字")
        return ""
    value = value.strip()
    if len(value) > limit:
        problems.append(f"{key}：最多 {limit} 个字符（现在 {len(value)} 个）")
    return value


def _grades(value: Any, problems: list[str]) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        problems.append("grades：必填，应为年级列表，如 [4, 8]")
        return ()
    bad = [g for g in value if not isinstance(g, int) or isinstance(g, bool) or not 1 <= g <= 12]
    if bad:
        problems.append(f"grades：年级应为 1 到 12 的整数（{', '.join(map(repr, bad))} 不是）")
        return ()
    if len(set(value)) != len(value):
        problems.append("grades：有重复的年级")
    return tuple(sorted(set(value)))


def parse_assessment_file(data: Mapping[str, Any]) -> AssessmentFile:
    """Check an assessment document on its own; raise :class:`AssessmentFileError` with every problem.

    The shared ``[blueprint]`` table and each ``[bands.X]`` table merged over it are checked by
    :func:`assess.blueprints.parse_blueprint` here already, so a file with a blueprint that no
    band could use is refused before the database is asked anything.
    """
    problems: list[str] = []
    for key in sorted(set(data) - _TOP_KEYS):
        problems.append(f"{key}：未知的字段（可用：{', '.join(sorted(_TOP_KEYS))}）")
    code = _text(data, "code", 32, problems)
    if code and not all(c.isascii() and (c.isalnum() or c in "-_.") for c in code):
        problems.append("code：只能用字母、数字和 - _ .")
    name = _text(data, "name", 128, problems)
    purpose = data.get("purpose", "operational")
    if purpose not in PURPOSES:
        problems.append(f"purpose：应为 {' 或 '.join(PURPOSES)}，不是 {purpose!r}")
    grades = _grades(data.get("grades"), problems)
    calibration = data.get("calibration")
    if calibration is not None and (not isinstance(calibration, str) or not calibration.strip()):
        problems.append("calibration：应为参数标定的名称")
        calibration = None
    window = data.get("window")
    opens = closes = None
    if not isinstance(window, Mapping):
        problems.append("window：必填，应为含 opens 和 closes 的表")
    else:
        for key in sorted(set(window) - {"opens", "closes"}):
            problems.append(f"window.{key}：未知的字段（可用：opens, closes）")
        opens = _when(window.get("opens"), "window.opens", problems)
        closes = _when(window.get("closes"), "window.closes", problems)
        if opens is not None and closes is not None and closes <= opens:
            problems.append("window：关闭时间必须晚于开放时间")
    shared = data.get("blueprint", {})
    if not isinstance(shared, Mapping):
        problems.append("blueprint：应为一个表")
        shared = {}
    bands = data.get("bands", {})
    if not isinstance(bands, Mapping) or not all(isinstance(v, Mapping) for v in bands.values()):
        problems.append('bands：应为按年级段代码排列的表，如 [bands."7-9"]')
        bands = {}
    problems += _blueprint_problems("blueprint", dict(shared))
    for band, own in bands.items():
        problems += _blueprint_problems(f"bands.{band}", {**shared, **own})
    if shared and opens is not None and closes is not None:
        limit = shared.get("time_limit_minutes", BlueprintSpec.time_limit_minutes)
        if isinstance(limit, int) and timedelta(minutes=limit) > closes - opens:
            problems.append("window：开放时间比测评时限还短")
    if problems:
        raise AssessmentFileError(list(dict.fromkeys(problems)))
    assert opens is not None and closes is not None
    return AssessmentFile(
        code=code,
        name=name,
        purpose=str(purpose),
        grades=grades,
        opens_at=opens,
        closes_at=closes,
        calibration=calibration.strip() if isinstance(calibration, str) else None,
        shared=dict(shared),
        bands={str(k): dict(v) for k, v in bands.items()},
    )


def _booklets(value: Any, where: str, problems: list[str]) -> tuple[tuple[str, ...], ...]:
    if not isinstance(value, list) or not all(
        isinstance(b, list) and b and all(isinstance(c, str) for c in b) for b in value
    ):
        problems.append(f"{where}.booklets：应为题本列表，每个题本是按顺序排列的题目编号列表")
        return ()
    return tuple(tuple(b) for b in value)


_LIMITS = {"min_items": 200, "max_items": 200, "time_limit_minutes": 600, "pilot_items": 20, "randomesque_k": 50}
"""Upper bounds of a blueprint's counts (a national test has 20-40 items and 40-60 minutes)."""


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _shape_problems(where: str, table: Mapping[str, Any]) -> list[str]:
    """What :func:`assess.blueprints.parse_blueprint` takes on trust: the bounds, the rules' fields, ``start_theta``."""
    problems = [
        f"{where}.{key}：最多 {limit}"
        for key, limit in _LIMITS.items()
        if _count(table.get(key)) and table[key] > limit
    ]
    start = table.get("start_theta", {})
    if not isinstance(start, Mapping) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and -4 <= v <= 4 for v in start.values()
    ):
        problems.append(f'{where}.start_theta：应为按年级的起始能力（-4 到 4），如 {{ "8" = 0.0 }}')
    for name in ("content", "sub_content"):
        rules = table.get(name, [])
        if not isinstance(rules, list):
            problems.append(f"{where}.{name}：应为内容约束的列表")
            continue
        for i, rule in enumerate(rules):
            if not isinstance(rule, Mapping):
                continue  # parse_blueprint names it
            for key in ("min_items", "max_items"):
                if key in rule and rule[key] is not None and not _count(rule[key]):
                    problems.append(f"{where}.{name}[{i}].{key}：应为非负整数")
            share = rule.get("target_share")
            if share is not None and (
                not isinstance(share, int | float) or isinstance(share, bool) or not 0 <= share <= 1
            ):
                problems.append(f"{where}.{name}[{i}].target_share：应为 0 到 1 之间的数")
    return problems


def _design(where: str, table: dict[str, Any], problems: list[str]) -> BandDesign | None:
    """A band's design from its merged table, or ``None`` with the problems added."""
    table = dict(table)
    raw_booklets = table.pop("booklets", None)
    shape = _shape_problems(where, table)
    if shape:
        problems.extend(shape)
        return None
    try:
        spec = parse_blueprint(table)
    except BlueprintError as exc:
        for p in exc.problems:  # a field's problem names the field; the engine's own checks do not
            inner = p.removeprefix("blueprint: ")
            problems.append(f"{where}.{p}" if inner == p else f"{where}：{inner}")
        return None
    except (TypeError, ValueError, AttributeError) as exc:  # a value of a kind no check above foresaw
        problems.append(f"{where}：测评方案无效（{exc}）")
        return None
    if spec.time_limit_minutes < 1:
        problems.append(f"{where}.time_limit_minutes：至少 1 分钟")
    if spec.mode == "adaptive" and spec.max_items < max(1, spec.min_items):
        problems.append(f"{where}：max_items 不能小于 min_items，且至少为 1")
    booklets: tuple[tuple[str, ...], ...] = ()
    if raw_booklets is not None:
        if spec.mode != "booklets":
            problems.append(f'{where}.booklets：只有 mode = "booklets" 的设计才有题本')
        booklets = _booklets(raw_booklets, where, problems)
    return BandDesign(spec, booklets)


def _blueprint_problems(where: str, table: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    _design(where, table, problems)
    return problems


# ============================================================================================ checking the bank
def _calibration(session: Session, file: AssessmentFile, problems: list[str]) -> Calibration | None:
    if file.calibration is None:
        found = session.exec(
            select(Calibration)
            .where(Calibration.status == "operational", Calibration.name != PROVISIONAL)
            .order_by(col(Calibration.published_at).desc(), col(Calibration.id).desc())
        ).first()
        if found is None and file.purpose == "operational":
            problems.append("calibration：题库还没有发布的参数标定（先标定并发布，或在文件中写明 calibration）")
        return found
    found = session.exec(select(Calibration).where(Calibration.name == file.calibration)).first()
    if found is None:
        problems.append(f"calibration：没有名为 {file.calibration!r} 的参数标定")
    elif file.purpose == "operational" and found.status != "operational":
        problems.append(f"calibration：参数标定 {file.calibration!r} 还没有发布，正式测评只能用已发布的标定")
    return found


def _content_codes(framework: FrameworkSpec) -> tuple[set[str], set[str]]:
    dims = {d.code for d in framework.dimensions}
    subs = {i.code for i in framework.indicators}
    return dims, subs


def _check_design(
    session: Session,
    where: str,
    band: str,
    design: BandDesign,
    calibration: Calibration | None,
    framework: FrameworkSpec,
    problems: list[str],
) -> None:
    spec = design.spec
    dims, subs = _content_codes(framework)
    for i, rule in enumerate(spec.content):
        if rule.area not in dims:
            problems.append(f"{where}.content[{i}].area：{rule.area!r} 不是指标框架 {framework.code} 的维度")
    for i, rule in enumerate(spec.sub_content):
        if rule.area not in subs:
            problems.append(f"{where}.sub_content[{i}].area：{rule.area!r} 不是指标框架 {framework.code} 的二级指标")
    if spec.mode == "booklets":
        if not design.booklets:
            problems.append(f"{where}.booklets：题本设计需要列出题本（按顺序的题目编号）")
            return
        codes = {c for b in design.booklets for c in b}
        rows = session.exec(select(Item.code, Item.grade_bands, Item.status).where(col(Item.code).in_(codes))).all()
        known = {c: (bands or [], status) for c, bands, status in rows}
        for i, booklet in enumerate(design.booklets):
            if len(set(booklet)) != len(booklet):
                problems.append(f"{where}.booklets[{i}]：同一个题本里有重复的题目")
            for code in booklet:
                if code not in known:
                    problems.append(f"{where}.booklets[{i}]：题库中没有题目 {code}")
                elif band not in known[code][0]:
                    problems.append(f"{where}.booklets[{i}]：题目 {code} 不属于年级段 {band}")
                elif known[code][1] == "retired":
                    problems.append(f"{where}.booklets[{i}]：题目 {code} 已停用")
        return
    if calibration is None or calibration.id is None:
        return  # reported with the calibration
    try:
        bank = load_band_bank(session=session, calibration_id=calibration.id, band=band)
    except NotConfigured:
        problems.append(f"{where}：参数标定 {calibration.name!r} 中没有年级段 {band} 的已标定题目")
        return
    operational = [d for d, pilot in zip(bank.dimensions, bank.engine.pilot, strict=True) if not pilot]
    if len(operational) < spec.max_items:
        problems.append(
            f"{where}.max_items：年级段 {band} 只有 {len(operational)} 道已标定的题目，不够每人 {spec.max_items} 道"
        )
    for i, rule in enumerate(spec.content):
        have = operational.count(rule.area)
        if rule.area in dims and have < rule.min_items:
            problems.append(
                f"{where}.content[{i}]：年级段 {band} 的维度 {rule.area} 只有 {have} 道已标定的题目，"
                f"少于最少 {rule.min_items} 道"
            )
    n_pilot = int(bank.engine.pilot.sum())
    if spec.pilot_items > n_pilot:
        problems.append(f"{where}.pilot_items：年级段 {band} 只有 {n_pilot} 道试测题，少于每人 {spec.pilot_items} 道")


def check_against_bank(*, session: Session, file: AssessmentFile) -> CheckedAssessment:
    """Check a parsed file against the database; raise :class:`AssessmentFileError` with every problem.

    Reads only: nothing is written, whatever the outcome.
    """
    problems: list[str] = []
    if session.exec(select(Assessment.id).where(Assessment.code == file.code)).first() is not None:
        problems.append(f"code：已有编号为 {file.code} 的测评批次")
    framework = current_framework(session=session)
    by_band: dict[str, list[int]] = {}
    for grade in file.grades:
        band = framework.band_for_grade(grade)
        if band is None:
            problems.append(f"grades：{grade} 年级不在指标框架 {framework.code} 的任何年级段中")
        else:
            by_band.setdefault(band.code, []).append(grade)
    for band_code in sorted(set(file.bands) - set(by_band)):
        known = framework.band(band_code)
        if known is None:
            problems.append(f"bands.{band_code}：指标框架 {framework.code} 没有这个年级段")
        else:
            problems.append(f"bands.{band_code}：grades 中没有这个年级段的年级")
    calibration = _calibration(session, file, problems)
    designs: dict[str, BandDesign] = {}
    for band_code in [b.code for b in framework.grade_bands if b.code in by_band]:
        where = f"bands.{band_code}" if band_code in file.bands else "blueprint"
        design = _design(where, {**file.shared, **file.bands.get(band_code, {})}, problems)
        if design is None:
            continue
        _check_design(session, where, band_code, design, calibration, framework, problems)
        designs[band_code] = design
    if problems:
        raise AssessmentFileError(list(dict.fromkeys(problems)))  # a shared table's problem once, not per band
    return CheckedAssessment(
        file=file,
        calibration_id=calibration.id if calibration is not None else None,
        calibration_name=calibration.name if calibration is not None else None,
        designs=designs,
    )


def example_file(*, code: str = "2026-SPRING", grades: tuple[int, ...] = (4, 8), now: datetime | None = None) -> str:
    """A complete example assessment file (TOML) that a user can edit: a window of the coming week."""
    start = (now or datetime.now(UTC)).astimezone(_BEIJING).replace(hour=8, minute=0, second=0, microsecond=0)
    start += timedelta(days=1)
    end = (start + timedelta(days=7)).replace(hour=17)
    return (
        f'code = "{code}"\n'
        'name = "学生信息素养测评"\n'
        'purpose = "operational"\n'
        f"grades = [{', '.join(map(str, grades))}]\n"
        '# calibration = "..."   # 不写则用最新发布的参数标定\n\n'
        "[window]   # 不带时区的时间按北京时间\n"
        f"opens = {start.strftime('%Y-%m-%dT%H:%M:%S')}+08:00\n"
        f"closes = {end.strftime('%Y-%m-%dT%H:%M:%S')}+08:00\n\n"
        "[blueprint]\n"
        'mode = "adaptive"\n'
        "min_items = 24\n"
        "max_items = 30\n"
        "se_target = 0.3\n"
        "time_limit_minutes = 45\n"
        "randomesque_k = 3\n"
        "sympson_hetter = false\n"
        "pilot_items = 2\n"
        "content = [\n"
        + "".join(f'  {{ area = "D{d}", min_items = 5, max_items = 9 }},\n' for d in range(1, 5))
        + "]\n"
    )
