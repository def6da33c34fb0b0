"""The scale in force: stored scale versions, the one accessor scoring reads, adopting a version.

Every reader of the reporting scale (a sitting's final scores on both paths, the finish page's
level description, the plausible values and the reports built on them, a bookmark study's
impact) asks :func:`band_scale` for a band's :class:`~assess.scales.CutScores`, which carries the
active version's baseline, cuts, level names, descriptions and 达标 line. While no version is
stored, the built-in :data:`DEFAULT_VERSION` is active: the constants of :mod:`assess.scales`
and the framework's cuts (:func:`~assess.scales.cut_scores_for_band`), so nothing changes until a
researcher adopts a version. A version's ``cuts`` name only the bands it sets; any other band keeps
the framework's cuts. A version's baseline ``None`` means the calibration's latent distribution
(mean 0, SD 1 for a sitting's score, as before).

Adopting stores the default as version 1 first (so it stays), adds the new version with the next
number and makes it the only active one, in the caller's transaction, with an audit event. A
sitting's stored scale score and level are those of the version active when it was scored; a
plausible-value run stores the baseline, levels and cuts it was drawn with; reports read those.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, func, select

from assess.accounts import audit
from assess.accounts.scope import Actor
from assess.exceptions import NotFound, StandardSettingRefused
from assess.position import is_row_id
from assess.scales import LEVEL_DESCRIPTIONS, LEVELS, CutScores, cut_scores_for_band
from assess.standards.models import ScaleVersion
from itembank.framework import GradeBandSpec
from itembank.framework_store import current_framework
from itembank.models import utcnow

__all__ = [
    "DEFAULT_VERSION",
    "ScaleSettings",
    "activate_version",
    "active_scale",
    "adopt_version",
    "band_scale",
    "edited_settings",
    "framework_bands",
    "list_versions",
    "scale_version",
]


@dataclass(frozen=True)
class ScaleSettings:
    """A scale version as scoring reads it (see :class:`~assess.standards.models.ScaleVersion`)."""

    number: int
    name: str
    baseline_mean: float | None
    baseline_sd: float | None
    levels: tuple[str, ...]
    descriptions: Mapping[str, str]
    described: Mapping[str, Mapping[str, str]]
    cuts: Mapping[str, tuple[float, float, float]]
    pass_level: int
    source: str = ""
    note: str = ""
    active: bool = True
    stored: bool = False
    adopted_at: datetime | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def pass_name(self) -> str:
        """The lowest level that counts as 达标."""
        return self.levels[self.pass_level]

    def band_cuts(self, band: str | GradeBandSpec) -> CutScores:
        """The reporting scale of a band under this version (the framework's cuts where it sets none)."""
        code = band if isinstance(band, str) else band.code
        cuts = self.cuts[code] if code in self.cuts else cut_scores_for_band(band).cuts
        return CutScores(
            band=code,
            cuts=cuts,
            levels=self.levels,
            pass_level=self.pass_level,
            baseline_mean=0.0 if self.baseline_mean is None else self.baseline_mean,
            baseline_sd=1.0 if self.baseline_sd is None else self.baseline_sd,
            descriptions=tuple(self.descriptions.get(name, "") for name in self.levels),
            version=self.number,
        )


DEFAULT_VERSION = ScaleSettings(
    number=1,
    name="默认量表",
    baseline_mean=None,
    baseline_sd=None,
    levels=LEVELS,
    descriptions=dict(LEVEL_DESCRIPTIONS),
    described={},
    cuts={},
    pass_level=1,
    source="default",
    note="指标框架规定的分数线；量表基准为校准的潜在分布。",
)
"""Version 1: today's constants; active while no version is stored."""


def _settings(row: ScaleVersion) -> ScaleSettings:
    return ScaleSettings(
        number=row.number,
        name=row.name,
        baseline_mean=row.baseline_mean,
        baseline_sd=row.baseline_sd,
        levels=tuple(row.levels),
        descriptions=dict(row.descriptions),
        described={band: dict(text) for band, text in row.described.items()},
        cuts={band: (float(c[0]), float(c[1]), float(c[2])) for band, c in row.cuts.items()},
        pass_level=row.pass_level,
        source=row.source,
        note=row.note,
        active=row.active,
        stored=True,
        adopted_at=row.adopted_at,
    )


def active_scale(*, session: Session) -> ScaleSettings:
    """The scale version in force (the built-in default while none is stored)."""
    row = session.exec(select(ScaleVersion).where(col(ScaleVersion.active).is_(True))).first()
    return DEFAULT_VERSION if row is None else _settings(row)


def band_scale(*, session: Session, band: str | GradeBandSpec) -> CutScores:
    """The reporting scale of a grade band under the version in force: the one accessor scoring reads."""
    return active_scale(session=session).band_cuts(band)


def list_versions(*, session: Session) -> list[ScaleSettings]:
    """Every version, newest first (the built-in default alone while none is stored)."""
    rows = session.exec(select(ScaleVersion).order_by(col(ScaleVersion.number).desc())).all()
    return [_settings(r) for r in rows] or [DEFAULT_VERSION]


def scale_version(*, session: Session, number: int) -> ScaleSettings:
    """One version by its number (``NotFound`` for an unknown one)."""
    if not is_row_id(number):
        raise NotFound(f"没有第 {number} 版量表")
    row = session.exec(select(ScaleVersion).where(ScaleVersion.number == number)).first()
    if row is not None:
        return _settings(row)
    if number == 1 and session.exec(select(func.count()).select_from(ScaleVersion)).one() == 0:
        return DEFAULT_VERSION
    raise NotFound(f"没有第 {number} 版量表")


def _store_default(session: Session) -> None:
    if session.exec(select(func.count()).select_from(ScaleVersion)).one():
        return
    d = DEFAULT_VERSION
    session.add(ScaleVersion(number=1, name=d.name, levels=list(d.levels), descriptions=dict(d.descriptions),
                             pass_level=d.pass_level, source=d.source, note=d.note, active=True))  # fmt: skip
    session.flush()


def _check(settings: ScaleSettings) -> None:
    if len(settings.levels) != 4 or len(set(settings.levels)) != 4 or not all(n.strip() for n in settings.levels):
        raise StandardSettingRefused("量表须有四个互不相同的水平名称")
    if not 1 <= settings.pass_level < len(settings.levels):
        raise StandardSettingRefused("达标线须在两个水平之间")
    if settings.baseline_sd is not None and not settings.baseline_sd > 0:
        raise StandardSettingRefused("量表基准的标准差须为正数")
    for band, cuts in settings.cuts.items():
        if not all(a < b for a, b in zip(cuts, cuts[1:], strict=False)):
            raise StandardSettingRefused(f"年级段 {band} 的分数线须从低到高严格递增")


def _number(value: object, what: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        got = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise StandardSettingRefused(f"{what}须为数字：{value!r}") from None
    if got != got or got in (float("inf"), float("-inf")):
        raise StandardSettingRefused(f"{what}须为有限的数字")
    return got


def edited_settings(base: ScaleSettings, values: Mapping[str, object]) -> ScaleSettings:
    """``base`` with the settings ``values`` gives (a settings file, the console's form); the rest kept.

    Keys: ``name``, ``note``, ``baseline_mean`` and ``baseline_sd`` (empty or missing both: the
    calibration's), ``levels`` (four names), ``pass_level`` (the lowest 达标 level, by name or
    index), ``descriptions`` (level -> the students' text), ``cuts`` (band -> three ascending
    cuts; an empty list: the framework's again).

    Raises
    ------
    StandardSettingRefused
        A value of the wrong kind; the result is checked again when adopted.
    """
    unknown = sorted(set(values) - {"name", "note", "baseline_mean", "baseline_sd", "levels", "pass_level",
                                     "descriptions", "cuts"})  # fmt: skip
    if unknown:
        raise StandardSettingRefused(f"量表设置中没有这些项：{'、'.join(unknown)}")
    out = base
    if "baseline_mean" in values or "baseline_sd" in values:
        mean = _number(values.get("baseline_mean"), "量表基准的均值")
        sd = _number(values.get("baseline_sd"), "量表基准的标准差")
        if (mean is None) != (sd is None):
            raise StandardSettingRefused("量表基准的均值与标准差须同时给出（或同时留空，用校准的潜在分布）")
        out = replace(out, baseline_mean=mean, baseline_sd=sd)
    if "levels" in values:
        levels = values["levels"]
        if not isinstance(levels, list | tuple) or not all(isinstance(x, str) for x in levels):
            raise StandardSettingRefused("水平名称须为文字列表")
        renamed = {old: new.strip() for old, new in zip(out.levels, levels, strict=False)}  # texts follow a rename
        descriptions = {renamed.get(k, k): v for k, v in out.descriptions.items()}
        out = replace(out, levels=tuple(x.strip() for x in levels), descriptions=descriptions)
    if "pass_level" in values:
        chosen = values["pass_level"]
        if isinstance(chosen, str) and chosen in out.levels:
            chosen = out.levels.index(chosen)
        if not isinstance(chosen, int) and not (isinstance(chosen, str) and chosen.isdigit()):
            raise StandardSettingRefused(f"达标水平 {chosen} 不是量表的水平")
        out = replace(out, pass_level=int(chosen))
    if "descriptions" in values:
        texts = values["descriptions"]
        if not isinstance(texts, Mapping) or not all(isinstance(v, str) for v in texts.values()):
            raise StandardSettingRefused("水平描述须为“水平名称 = 描述”")
        if any(k not in out.levels for k in texts):
            raise StandardSettingRefused("水平描述须对应量表的水平名称")
        out = replace(out, descriptions={**out.descriptions, **{str(k): v.strip() for k, v in texts.items()}})
    if "cuts" in values:
        given = values["cuts"]
        if not isinstance(given, Mapping):
            raise StandardSettingRefused("分数线须为“年级段 = [三个分数]”")
        cuts = dict(out.cuts)
        for band, row in given.items():
            if isinstance(row, list | tuple) and not row:
                cuts.pop(str(band), None)
                continue
            if not isinstance(row, list | tuple) or len(row) != 3:
                raise StandardSettingRefused(f"年级段 {band} 须给出三个分数线")
            nums = [_number(x, f"年级段 {band} 的分数线") for x in row]
            if any(x is None for x in nums):
                raise StandardSettingRefused(f"年级段 {band} 须给出三个分数线")
            cuts[str(band)] = (float(nums[0] or 0), float(nums[1] or 0), float(nums[2] or 0))
        out = replace(out, cuts=cuts)
    name, note = values.get("name", ""), values.get("note", "")
    return replace(out, name=str(name).strip(), note=str(note).strip(), source="edited")


def adopt_version(
    *, session: Session, actor: Actor, settings: ScaleSettings, now: datetime | None = None
) -> ScaleSettings:
    """Store ``settings`` as the next version and make it the active one (the caller commits).

    The default is stored as version 1 first, so it stays; ``settings.number`` is ignored.

    Raises
    ------
    StandardSettingRefused
        Not four distinct level names, a 达标 line outside the levels, cuts not ascending.
    """
    _check(settings)
    _store_default(session)
    number = int(session.exec(select(func.max(ScaleVersion.number))).one() or 0) + 1
    session.exec(update(ScaleVersion).values(active=False))
    row = ScaleVersion(
        number=number,
        name=settings.name[:64] or f"第 {number} 版量表",
        baseline_mean=settings.baseline_mean,
        baseline_sd=settings.baseline_sd,
        levels=list(settings.levels),
        descriptions=dict(settings.descriptions),
        described={b: dict(t) for b, t in settings.described.items()},
        cuts={b: list(c) for b, c in settings.cuts.items()},
        pass_level=settings.pass_level,
        source=settings.source[:128],
        note=settings.note,
        active=True,
        user_id=actor.user_id,
        adopted_at=now or utcnow(),
    )
    session.add(row)
    session.flush()
    detail = {"source": settings.source, "cuts": {b: list(c) for b, c in settings.cuts.items()}}
    audit.record(session, actor, "scale.adopt", target=f"scale:{number}", detail=detail)
    return _settings(row)


def activate_version(*, session: Session, actor: Actor, number: int, now: datetime | None = None) -> ScaleSettings:
    """Put an earlier version back in force (recorded; no version is changed or removed)."""
    scale_version(session=session, number=number)
    _store_default(session)
    session.exec(update(ScaleVersion).values(active=False))
    row = session.exec(select(ScaleVersion).where(ScaleVersion.number == number)).one()
    row.active, row.adopted_at = True, now or utcnow()
    session.add(row)
    session.flush()
    audit.record(session, actor, "scale.adopt", target=f"scale:{number}", detail={"source": "reactivated"})
    return _settings(row)


def framework_bands(*, session: Session) -> tuple[GradeBandSpec, ...]:
    """The grade bands of the framework in use (for the console's table of cuts)."""
    return current_framework(session=session).grade_bands
