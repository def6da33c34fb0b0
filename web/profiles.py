"""The one seam between the consoles and the reports: find a node's stored profile, render it, show it.

The consoles (:mod:`web.controllers.console_tree`, the staff API, the ZIP job) never call a report
module themselves; they call the :class:`ProfileSource` the app was built with (``app.state.profiles``).
:class:`StoredProfiles` reads the profiles an assessment's build keeps in the database
(:mod:`reports.store`: plausible values, replicate SEs, gaps, comparisons, strengths and weaknesses,
built once by ``infolit report build`` or the demo) and renders them with the report renderers of
:mod:`reports.files` (PDF, XLSX, CSV, HTML as far as they are installed).

Scoping is not the source's business: it is handed nodes the acting user may see.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.engine import Engine
from sqlmodel import Session

from assess.accounts.exceptions import OutOfScope
from assess.console import jobs
from assess.console.tree import Node
from itembank.db import session_scope
from reports.files import available_formats
from reports.profile import Profile
from reports.store import load_profile, stored_build

__all__ = [
    "FORMAT_LABELS",
    "MEDIA_TYPES",
    "ProfileSource",
    "Shown",
    "StoredProfiles",
    "default_profiles",
    "zip_school_profiles",
]

FORMAT_LABELS: dict[str, str] = {"pdf": "PDF 报告", "xlsx": "Excel 表格", "csv": "CSV 数据", "html": "网页版"}
"""The download formats as the console names them."""
MEDIA_TYPES: dict[str, str] = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
}
"""Media type of each download format."""


@dataclass(frozen=True)
class Shown:
    """What a console shows for a node: its profile, or why there is none (``note``, Chinese)."""

    profile: Profile | None
    note: str | None = None


class ProfileSource(Protocol):
    """Finds, renders and shows profiles of nodes of the people tree."""

    @property
    def formats(self) -> Mapping[str, str]:
        """The download formats and their media types (``pdf``, ``xlsx``, ``csv``, ...)."""
        ...

    @property
    def template(self) -> str:
        """The template (given ``shown``) that shows a profile as HTML."""
        ...

    def build(self, *, session: Session, assessment_id: int, node: Node) -> Shown:
        """The profile of ``node`` in one assessment (its children are compared inside it)."""
        ...

    def render(self, shown: Shown, fmt: str) -> bytes:
        """The profile as a file of format ``fmt``.

        Raises
        ------
        OutOfScope
            There is no profile to render (answered 404, like anything that does not exist).
        """
        ...


_NOT_BUILT = "本次测评的报告尚未生成：测评结束后，由研究人员或管理员生成（infolit report build）。"
_NOT_IN = "本次测评没有这个单位的参测数据。"


@dataclass(frozen=True)
class StoredProfiles:
    """Profiles from the assessment's stored build (:mod:`reports.store`)."""

    template: str = "fragments/console/_profile.html"

    @property
    def formats(self) -> Mapping[str, str]:
        """The formats this installation renders, in the order the console offers them."""
        have = available_formats()
        return {f: MEDIA_TYPES[f] for f in ("pdf", "xlsx", "csv", "html") if f in have}

    def build(self, *, session: Session, assessment_id: int, node: Node) -> Shown:
        """The node's stored profile (a school's, or a county's, city's or province's), or the reason there is none."""
        if stored_build(session=session, assessment_id=assessment_id) is None:
            return Shown(None, _NOT_BUILT)
        level = "school" if node.kind == "school" else node.level
        profile = load_profile(session=session, assessment_id=assessment_id, level=level, code=node.code)
        return Shown(profile, None if profile is not None else _NOT_IN)

    def render(self, shown: Shown, fmt: str) -> bytes:
        """The profile as PDF, XLSX, CSV or HTML (see :func:`reports.files.available_formats`)."""
        if shown.profile is None:
            raise OutOfScope(shown.note or _NOT_IN)
        renderers = available_formats()
        if fmt not in renderers:
            raise OutOfScope("没有这种下载格式。")
        return renderers[fmt](shown.profile)


def default_profiles() -> ProfileSource:
    """The profile source an app gets unless it is handed another."""
    return StoredProfiles()


def zip_school_profiles(
    *, engine: Engine, token: str, profiles: ProfileSource, assessment_id: int, area: Node, schools: Sequence[Node]
) -> None:
    """The job behind "every school profile of an area as one ZIP": one PDF per school, progress as it goes.

    Runs in a worker thread; each school's profile is built in its own short transaction and the
    job's progress is written after each (:mod:`assess.console.jobs`). A failure is recorded on the
    job, for its page to show.
    """
    try:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for k, school in enumerate(schools):
                with session_scope(engine) as session:
                    shown = profiles.build(session=session, assessment_id=assessment_id, node=school)
                if shown.profile is not None:  # a school without a profile in the build has no file
                    fmt = "pdf" if "pdf" in profiles.formats else next(iter(profiles.formats))
                    archive.writestr(f"{school.code}_{school.name}.{fmt}", profiles.render(shown, fmt))
                jobs.report_progress(engine=engine, token=token, done=k + 1)
        jobs.finish_job(
            engine=engine,
            token=token,
            filename=f"{area.code}_{area.name}_学校报告.zip",
            media_type="application/zip",
            content=buffer.getvalue(),
        )
    except Exception as exc:  # noqa: BLE001 - the user is told on the job's page
        jobs.fail_job(engine=engine, token=token, message=f"{type(exc).__name__}: {exc}"[:200])
