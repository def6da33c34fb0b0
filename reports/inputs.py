"""What aggregation reads and the thresholds it applies: :class:`ReportInputs`, :class:`SuppressionRules`.

Kept apart from :mod:`reports.aggregate` (which reads the database and runs the passes) and
:mod:`reports.assemble` (which turns one group's numbers into a profile), which both use them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from itembank.framework import FrameworkSpec
from reports.plausible import AssessmentResponses, StoredValues
from reports.profile import AssessmentInfo
from reports.sample import SampleDesign
from reports.tree import PeopleTree
from scoring.survey import REGION_SUPPRESSION, SCHOOL_SUPPRESSION, SuppressionRule

__all__ = ["ReportInputs", "SuppressionRules"]


@dataclass(frozen=True)
class SuppressionRules:
    """Thresholds below which numbers are withheld (defaults from the issue: 10 / 30 students, 5 schools).

    Parameters
    ----------
    school, region
        A school's and an area's own rule (fewer than 10 students; fewer than 30 or 5 schools).
    subgroup, region_subgroup
        The rule of each side of a gap (girls, boys, rural, grade 4 ...) in a school and in an area.
    min_responses
        A sub-indicator with fewer answered items in a group is ``too_few`` to judge.
    min_reliability
        A dimension subscore below this marginal reliability is flagged instead of shown.
    min_effect
        The smallest observed-minus-expected score share called a strength or a weakness.
    """

    school: SuppressionRule = SCHOOL_SUPPRESSION
    region: SuppressionRule = REGION_SUPPRESSION
    subgroup: SuppressionRule = field(default_factory=lambda: SuppressionRule(min_students=30, min_schools=1))
    region_subgroup: SuppressionRule = REGION_SUPPRESSION
    min_responses: int = 100
    min_reliability: float = 0.5
    min_effect: float = 0.03

    def for_level(self, level: str) -> tuple[SuppressionRule, SuppressionRule]:
        """The group rule and the subgroup rule of a level."""
        return (self.school, self.subgroup) if level == "school" else (self.region, self.region_subgroup)


@dataclass(frozen=True, eq=False)
class ReportInputs:
    """Everything aggregation reads from the database, as arrays and specs (then no database is needed).

    ``tree`` the assessed students and the groups above them; ``values`` their stored PVs;
    ``responses`` their answers on the calibration's items (for the sub-indicators and the
    described levels); ``framework`` the framework in use (names, descriptions); ``sample`` the
    replicate design; ``info`` the assessment; ``described`` the researchers' texts of the
    proficiency levels in the scale version in force (band -> level -> text), which the reports
    print in place of the drafted can-do statements where a researcher wrote one.
    """

    tree: PeopleTree
    values: StoredValues
    responses: AssessmentResponses
    framework: FrameworkSpec
    sample: SampleDesign
    info: AssessmentInfo
    described: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
