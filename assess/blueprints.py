"""Blueprints: the test design of one grade band of an assessment, validated once at the edge.

A blueprint is stored as JSON on :class:`assess.models.BlueprintRow`; :func:`parse_blueprint`
turns that JSON into a :class:`BlueprintSpec` or raises :class:`BlueprintError` listing every
problem. :meth:`BlueprintSpec.engine_blueprint` hands the engine its part. Content rules are the
engine's own :class:`assess.engine.ContentRule`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assess.engine import Blueprint, ContentRule
from assess.exceptions import BlueprintError

__all__ = ["BlueprintSpec", "default_blueprint", "parse_blueprint"]

MODES = ("adaptive", "booklets")
ESTIMATORS = ("eap", "map", "mle", "wle")


@dataclass(frozen=True)
class BlueprintSpec:
    """Everything an assessment fixes for one grade band.

    Attributes
    ----------
    mode
        ``adaptive`` (CAT) or ``booklets`` (linear rotated forms for a field trial).
    min_items, max_items, se_target
        Length bounds and the precision stop (posterior SD) of an adaptive test.
    time_limit_minutes
        Server-side time limit; answers after the deadline are refused.
    content
        Bounds per dimension code (``D1`` ... ``D4``).
    sub_content
        Maximum counts per sub-indicator code (``D2.3``); minima apply to dimensions only.
    randomesque_k, sympson_hetter, target_exposure
        Exposure control.
    exposure
        Sympson-Hetter parameters ``K`` by item code, in (0, 1]: an item that comes up for
        selection is given with probability ``K`` (and blocked for the rest of the session
        otherwise); an item not listed has ``K = 1``. Calibrated for the assessment's bank and
        students by :func:`assess.exposure.calibrate_blueprint_exposure`; used only when
        ``sympson_hetter`` is on.
    start_theta
        Start ability by grade, e.g. ``{"4": -1.0, "8": 0.0}``.
    estimator, final_estimator
        Ability estimator during the test (the engine's EAP) and for the reported score.
    pilot_items
        Uncalibrated items seeded per session at random positions, unscored.
    show_result
        Whether the finish page shows the student an encouraging level description.
    """

    mode: str = "adaptive"
    min_items: int = 20
    max_items: int = 30
    se_target: float = 0.3
    time_limit_minutes: int = 45
    content: tuple[ContentRule, ...] = ()
    randomesque_k: int = 3
    sympson_hetter: bool = False
    target_exposure: float = 0.25
    exposure: dict[str, float] = field(default_factory=dict)
    start_theta: dict[str, float] = field(default_factory=dict)
    estimator: str = "eap"
    final_estimator: str = "eap"
    pilot_items: int = 0
    show_result: bool = True
    sub_content: tuple[ContentRule, ...] = ()

    def engine_blueprint(self) -> Blueprint:
        """The engine's view of this blueprint.

        Made once per spec: the engine caches what it derives from a blueprint by identity.
        """
        made: Blueprint | None = self.__dict__.get("_engine_blueprint")
        if made is None:
            made = self._make_engine_blueprint()
            object.__setattr__(self, "_engine_blueprint", made)
        return made

    def _make_engine_blueprint(self) -> Blueprint:
        return Blueprint(
            min_items=self.min_items,
            max_items=self.max_items,
            se_target=self.se_target,
            content=self.content,
            randomesque_k=self.randomesque_k,
            sympson_hetter=self.sympson_hetter,
            start_theta=tuple(sorted((int(g), float(t)) for g, t in self.start_theta.items())),
            sub_content=tuple(ContentRule(c.area, 0, c.max_items) for c in self.sub_content),
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON stored on the blueprint row (round-trips through :func:`parse_blueprint`)."""
        out: dict[str, Any] = {
            k: v for k, v in self.__dict__.items() if k not in ("content", "sub_content") and not k.startswith("_")
        }
        out["content"] = [c.__dict__ for c in self.content]
        out["sub_content"] = [c.__dict__ for c in self.sub_content]
        return out


def parse_blueprint(data: dict[str, Any]) -> BlueprintSpec:
    """Validate blueprint JSON; raise :class:`BlueprintError` with every problem found."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise BlueprintError(["blueprint: must be an object"])
    known = set(BlueprintSpec.__dataclass_fields__)
    for key in data:
        if key not in known:
            problems.append(f"{key}: unknown field")
    mode = data.get("mode", "adaptive")
    if mode not in MODES:
        problems.append(f"mode: must be one of {', '.join(MODES)}, not {mode!r}")
    ints = ("min_items", "max_items", "time_limit_minutes", "randomesque_k", "pilot_items")
    for key in ints:
        if key in data and (not isinstance(data[key], int) or isinstance(data[key], bool) or data[key] < 0):
            problems.append(f"{key}: must be a non-negative integer")
    for key in ("se_target", "target_exposure"):
        if key in data and (not isinstance(data[key], int | float) or not 0 <= data[key] <= 5):
            problems.append(f"{key}: must be a number between 0 and 5")
    exposure = data.get("exposure", {})
    if not isinstance(exposure, dict) or not all(
        isinstance(code, str) and isinstance(k, int | float) and not isinstance(k, bool) and 0 < k <= 1
        for code, k in exposure.items()
    ):
        problems.append("exposure: must map item codes to numbers in (0, 1]")
    for key in ("estimator", "final_estimator"):
        if key in data and data[key] not in ESTIMATORS:
            problems.append(f"{key}: must be one of {', '.join(ESTIMATORS)}")
    rules: dict[str, list[ContentRule]] = {"content": [], "sub_content": []}
    for name, found in rules.items():
        for i, rule in enumerate(data.get(name, []) or []):
            if not isinstance(rule, dict) or not isinstance(rule.get("area"), str):
                problems.append(f"{name}[{i}]: needs an 'area' (a dimension or sub-indicator code)")
                continue
            try:
                found.append(ContentRule(**rule))
            except TypeError as exc:
                problems.append(f"{name}[{i}]: {exc}")
    if problems:
        raise BlueprintError(problems)
    values = {k: v for k, v in data.items() if k not in rules}
    spec = BlueprintSpec(**values, content=tuple(rules["content"]), sub_content=tuple(rules["sub_content"]))
    try:
        spec.engine_blueprint()
    except ValueError as exc:  # the engine's own checks (BlueprintError), or a grade that is no number
        wrong = exc.problems if isinstance(exc, BlueprintError) else [str(exc)]
        raise BlueprintError([f"blueprint: {p}" for p in wrong]) from exc
    return spec


def default_blueprint(
    *, mode: str = "adaptive", dimensions: tuple[str, ...] = ("D1", "D2", "D3", "D4")
) -> BlueprintSpec:
    """The default national design: 24-30 items, SE 0.3, 5-9 items per dimension, exposure control."""
    if mode == "booklets":
        return BlueprintSpec(mode="booklets", min_items=30, max_items=30, se_target=0.0, randomesque_k=1)
    return BlueprintSpec(
        mode="adaptive",
        min_items=24,
        max_items=30,
        se_target=0.30,
        content=tuple(ContentRule(d, min_items=5, max_items=9) for d in dimensions),
        sub_content=tuple(ContentRule(f"{d}.{k}", max_items=3) for d in dimensions for k in range(1, 6)),
        randomesque_k=3,
        sympson_hetter=False,
        start_theta={"4": -1.0, "6": -0.4, "8": 0.0, "11": 0.6},
        pilot_items=2,
    )
