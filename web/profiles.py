"""The one seam between the consoles and the reports: build a node's profile, render it, show it.

The consoles (:mod:`web.controllers.console_tree`, the staff API, the ZIP job) never call a report
module themselves; they call the :class:`ProfileSource` the app was built with (``app.state.profiles``).
:class:`SummaryProfiles` serves the node summaries of :mod:`reports.summary` (plain means of the
sittings' scale scores, participation, levels, the comparison of children) rendered by
:mod:`reports.render_summary`. When the full profiles of the reports issue exist (plausible
values, replicate SEs, gaps, strengths), a source built on them replaces this one in
:func:`default_profiles` and nothing else in the web layer changes.

Scoping is not the source's business: it is handed nodes the acting user may see.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.engine import Engine
from sqlmodel import Session

from assess.console import jobs
from assess.console.tree import Node
from itembank.db import session_scope
from reports.render_summary import FORMATS, render_summary
from reports.summary import NodeRef, NodeSummary, SummaryRules, summarize_node

__all__ = ["FORMAT_LABELS", "ProfileSource", "SummaryProfiles", "default_profiles", "zip_school_profiles"]

FORMAT_LABELS: dict[str, str] = {"pdf": "PDF 报告", "xlsx": "Excel 表格", "csv": "CSV 数据"}
"""The download formats as the console names them."""


class ProfileSource(Protocol):
    """Builds, renders and shows profiles of nodes of the people tree."""

    @property
    def formats(self) -> Mapping[str, str]:
        """The download formats and their media types (``pdf``, ``xlsx``, ``csv``)."""
        ...

    @property
    def template(self) -> str:
        """The template (given ``profile``) that shows a profile as HTML."""
        ...

    @property
    def method_note(self) -> str:
        """One sentence under a profile on how its numbers were made (Chinese)."""
        ...

    def build(self, *, session: Session, assessment_id: int, node: Node, children: Sequence[Node]) -> Any:
        """The profile of ``node`` for one assessment, with its children compared."""
        ...

    def render(self, profile: Any, fmt: str) -> bytes:
        """The profile as a file of format ``fmt``."""
        ...


def _ref(node: Node) -> NodeRef:
    return NodeRef(node.kind, node.code, node.name, node.level, node.path)


@dataclass(frozen=True)
class SummaryProfiles:
    """Profiles as node summaries (:mod:`reports.summary`), with the suppression rules given."""

    rules: SummaryRules = field(default_factory=SummaryRules)
    formats: Mapping[str, str] = field(default_factory=lambda: dict(FORMATS))
    template: str = "fragments/console/_summary.html"
    method_note: str = (
        "平均量表分与达标率按已完成测评学生的量表分（EAP）直接计算，未经加权，不含抽样误差；"
        "完成人数不足的单位不报告成绩。"
    )

    def build(self, *, session: Session, assessment_id: int, node: Node, children: Sequence[Node]) -> NodeSummary:
        """The node summary (see :func:`reports.summary.summarize_node`)."""
        return summarize_node(
            session=session,
            assessment_id=assessment_id,
            node=_ref(node),
            children=[_ref(c) for c in children],
            rules=self.rules,
        )

    def render(self, profile: Any, fmt: str) -> bytes:
        """The summary as PDF, XLSX or CSV."""
        assert isinstance(profile, NodeSummary)
        return render_summary(profile, fmt)


def default_profiles() -> ProfileSource:
    """The profile source an app gets unless it is handed another."""
    return SummaryProfiles()


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
                    profile = profiles.build(session=session, assessment_id=assessment_id, node=school, children=())
                archive.writestr(f"{school.code}_{school.name}.pdf", profiles.render(profile, "pdf"))
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
