"""Stored profiles: every profile of an assessment built once and kept, for the consoles to show.

Building the profiles of a national assessment reads every student's plausible values and takes
tens of seconds (``bench/aggregate.py``), far too long for a page. :func:`store_profiles` keeps
a built :class:`~reports.aggregate.ProfileSet` in the database: one :class:`ProfileBuild` row
per assessment (the newest replaces the one before, in one transaction) and one
:class:`StoredProfile` row per school or region, the profile as JSON. A console then reads one
profile (:func:`load_profile`) and renders it in milliseconds.

The JSON is made by :mod:`cattrs` from the profile's frozen dataclasses and read back into the
same types, so a stored profile is the profile that was built: nothing is recomputed or
reinterpreted on the way out. Python's JSON keeps ``NaN`` (a withheld number), which plain JSON
columns of PostgreSQL would refuse, so the body is a text column.

A build rests on one plausible-value run: drawing the assessment's PVs again deletes the run and,
with it, the build (``ON DELETE CASCADE``), so no console shows numbers of values that are gone;
the profiles are then built again (``infolit report build``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from typing import Any

import cattrs
from sqlalchemy import delete, insert
from sqlmodel import Session, col, select

from reports.aggregate import ProfileSet, build_assessment_profiles
from reports.inputs import SuppressionRules
from reports.models import PlausibleValueRun, ProfileBuild, ProfileBuildPublic, StoredProfile
from reports.plausible import Progress
from reports.profile import Profile
from reports.sample import DesignMode
from reports.tree import find_assessment

__all__ = [
    "build_and_store",
    "load_all_profiles",
    "load_profile",
    "load_profiles",
    "profile_from_json",
    "profile_to_dict",
    "profile_to_json",
    "store_profiles",
    "stored_build",
]


@lru_cache(maxsize=1)
def _converter() -> cattrs.Converter:
    conv = cattrs.Converter()
    conv.register_unstructure_hook(datetime, datetime.isoformat)
    conv.register_structure_hook(datetime, lambda v, _t: datetime.fromisoformat(v))
    return conv


def profile_to_dict(profile: Profile) -> dict[str, Any]:
    """A profile as plain dicts, lists, strings and numbers (withheld numbers ``nan``; times ISO 8601)."""
    out: dict[str, Any] = _converter().unstructure(profile)
    return out


def profile_to_json(profile: Profile) -> str:
    """A profile as JSON text (withheld numbers as ``NaN``)."""
    return json.dumps(profile_to_dict(profile), ensure_ascii=False, separators=(",", ":"))


def profile_from_json(text: str) -> Profile:
    """The profile that :func:`profile_to_json` wrote."""
    return _converter().structure(json.loads(text), Profile)


def store_profiles(
    *, session: Session, profiles: ProfileSet, assessment_id: int, design: str = "auto"
) -> ProfileBuildPublic:
    """Keep every profile of ``profiles`` as the assessment's newest build (replacing the one before).

    Runs in the caller's transaction; the build rests on the assessment's newest PV run.

    Raises
    ------
    LookupError
        The assessment has no plausible values (the profiles cannot have been built from them).
    """
    run = _newest_run(session, assessment_id)
    if run is None or run.id is None:
        raise LookupError(f"assessment {assessment_id} has no plausible values")
    session.execute(delete(ProfileBuild).where(col(ProfileBuild.assessment_id) == assessment_id))
    session.flush()
    build = ProfileBuild(
        assessment_id=assessment_id,
        run_id=run.id,
        design=design,
        n_profiles=len(profiles),
        n_reported=sum(1 for p in profiles if p.reported),
        seconds={k: round(float(v), 3) for k, v in profiles.seconds.items()},
    )
    session.add(build)
    session.flush()
    rows = [
        {"build_id": build.id, "level": level, "code": code, "reported": p.reported, "body": profile_to_json(p)}
        for (level, code), p in profiles.profiles.items()
    ]
    for i in range(0, len(rows), 500):
        session.execute(insert(StoredProfile), rows[i : i + 500])
    session.flush()
    return ProfileBuildPublic.model_validate(build)


def _newest_run(session: Session, assessment_id: int) -> PlausibleValueRun | None:
    return session.exec(
        select(PlausibleValueRun)
        .where(PlausibleValueRun.assessment_id == assessment_id)
        .order_by(col(PlausibleValueRun.id).desc())
    ).first()


def stored_build(*, session: Session, assessment_id: int) -> ProfileBuildPublic | None:
    """The assessment's stored build, or ``None`` (never built, or its PVs were drawn again since)."""
    build = session.exec(select(ProfileBuild).where(ProfileBuild.assessment_id == assessment_id)).first()
    return None if build is None else ProfileBuildPublic.model_validate(build)


def load_profile(*, session: Session, assessment_id: int, level: str, code: str) -> Profile | None:
    """One stored profile of the assessment's build, or ``None`` (no build, or no such group in it)."""
    body = session.exec(
        select(StoredProfile.body)
        .join(ProfileBuild, col(ProfileBuild.id) == col(StoredProfile.build_id))
        .where(
            col(ProfileBuild.assessment_id) == assessment_id,
            col(StoredProfile.level) == level,
            col(StoredProfile.code) == code,
        )
    ).first()
    return None if body is None else profile_from_json(body)


def load_profiles(*, session: Session, assessment_id: int, level: str, codes: Iterable[str]) -> dict[str, Profile]:
    """Stored profiles of one level by code (the codes not in the build are left out)."""
    wanted = sorted(set(codes))
    out: dict[str, Profile] = {}
    for i in range(0, len(wanted), 900):
        rows = session.exec(
            select(StoredProfile.code, StoredProfile.body)
            .join(ProfileBuild, col(ProfileBuild.id) == col(StoredProfile.build_id))
            .where(
                col(ProfileBuild.assessment_id) == assessment_id,
                col(StoredProfile.level) == level,
                col(StoredProfile.code).in_(wanted[i : i + 900]),
            )
        ).all()
        out.update({code: profile_from_json(body) for code, body in rows})
    return out


def load_all_profiles(*, session: Session, assessment_id: int) -> list[Profile]:
    """Every stored profile of the assessment's build, by level and code (empty without a build)."""
    rows = session.exec(
        select(StoredProfile.body)
        .join(ProfileBuild, col(ProfileBuild.id) == col(StoredProfile.build_id))
        .where(col(ProfileBuild.assessment_id) == assessment_id)
        .order_by(col(StoredProfile.level), col(StoredProfile.code))
    ).all()
    return [profile_from_json(body) for body in rows]


def build_and_store(
    *, session: Session, assessment_code: str, design: DesignMode = "auto", n_pvs: int = 10,
    previous_code: str | None = None, linking_error: float = 0.0, rules: SuppressionRules | None = None,
    progress: Progress | None = None,
) -> tuple[ProfileSet, ProfileBuildPublic]:  # fmt: skip
    """Build every profile of an assessment (drawing its PVs if needed) and store them for the consoles.

    ``previous_code``: an earlier round on the same scale, for each profile's change since then;
    ``rules``: the suppression thresholds (default: the issue's 10 / 30 students, 5 schools).
    Runs in the caller's transaction. Raises what :func:`reports.aggregate.build_assessment_profiles`
    raises (:class:`reports.exceptions.ReportError`).
    """
    assessment = find_assessment(session=session, code=assessment_code)
    profiles = build_assessment_profiles(
        session=session, assessment_code=assessment_code, design=design, n_pvs=n_pvs,
        previous_code=previous_code, linking_error=linking_error, rules=rules, progress=progress,
    )  # fmt: skip
    return profiles, store_profiles(
        session=session, profiles=profiles, assessment_id=int(assessment.id or 0), design=design
    )
