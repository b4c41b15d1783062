"""Experiment definitions: the format, its validation, and one-line errors.

An experiment (JSON through the API, a ``[experiments.<key>]`` table in turnout.toml,
or built by ``turnout experiments start``):

    {"key": "checkout-button", "kind": "flag", "flag": "checkout-button",
     "variants": {"off": 50, "on": 50},          # the first is the control
     "unit": "user_id",
     "metrics": ["purchase",                      # a proportion of units with the event
                 {"name": "revenue", "kind": "mean", "event": "purchase"},
                 {"name": "clicks_per_session", "kind": "ratio",
                  "event": "click", "denominator": "session"}],
     "guardrails": [{"name": "errors", "goal": "decrease"}],
     "method": "sequential", "alpha": 0.05, "correction": "holm"}

``kind`` says where variants come from: ``code`` (the SDK's ``assign``), ``flag``
(the variants are the named flag's variants, assigned by the SDK) or ``release``
(the variants are releases and the router splits users between them by a sticky
cookie, labelling each request with its cohort).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from turnout.core.validation import StrictModel, one_line
from turnout.errors import UserError
from turnout.experiments.corrections import Correction
from turnout.experiments.sequential import DEFAULT_TUNING

__all__ = [
    "KEY_PATTERN",
    "ExperimentSpec",
    "MetricSpec",
    "parse_weights",
    "validate_spec",
]

KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$")
DAY = 86_400.0


class MetricSpec(StrictModel):
    """What is measured per unit after its first exposure.

    - ``proportion``: 1 if the unit had at least one ``event``, else 0 (conversion);
    - ``mean``: the sum of the values of its ``event`` (revenue per user);
    - ``ratio``: sum of ``event`` values over sum of ``denominator`` values, across
      units (clicks per session), with the delta-method variance.
    """

    name: str
    kind: Literal["proportion", "mean", "ratio"] = "proportion"
    event: str | None = None  # default: the metric's name
    denominator: str | None = None  # ratio only
    goal: Literal["increase", "decrease"] = "increase"
    cuped: bool = True  # use the pre-period covariate when there is one (not for ratios)

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    @field_validator("name", "event", "denominator")
    @classmethod
    def _names(cls, v: str | None) -> str | None:
        if v is not None and not _NAME.match(v):
            raise ValueError(
                f"{v!r} is not a name: 1-200 letters, digits or . _ : / - (starting alphanumeric)"
            )
        return v

    @model_validator(mode="after")
    def _ratio(self) -> MetricSpec:
        if self.kind == "ratio" and self.denominator is None:
            raise ValueError("a ratio metric needs a 'denominator' event")
        if self.kind != "ratio" and self.denominator is not None:
            raise ValueError(f"'denominator' is only for ratio metrics, not {self.kind}")
        return self

    @property
    def numerator(self) -> str:
        return self.event or self.name

    @property
    def events(self) -> tuple[str, ...]:
        return (self.numerator,) + ((self.denominator,) if self.denominator else ())


class ExperimentSpec(StrictModel):
    key: str = Field(pattern=KEY_PATTERN)
    description: str = ""
    kind: Literal["code", "flag", "release"] = "code"
    flag: str | None = None  # kind "flag": the flag whose variants are tested
    variants: dict[str, float]  # name -> weight; the first is the control
    unit: str = "user_id"  # what a unit is (for people; the SDK gets the id)
    metrics: list[MetricSpec] = Field(min_length=1)
    guardrails: list[MetricSpec] = Field(default_factory=list)
    method: Literal["sequential", "frequentist", "bayesian"] = "sequential"
    alpha: float = Field(0.05, gt=0, lt=0.5)
    correction: Correction = "holm"
    power: float = Field(0.8, gt=0, lt=1)
    mde: float = Field(0.05, gt=0, le=10)  # relative effect the sample size is planned for
    cuped_lookback: float = Field(14 * DAY, ge=0)  # seconds of pre-period before exposure
    tuning: float = Field(DEFAULT_TUNING, gt=0)  # sequential: units where it is tightest
    seed: str | None = None  # assignment seed (default: the key)
    cohort_header: str = "x-turnout-cohort"  # kind "release": the router's label
    sticky_cookie: str = "turnout_ab"  # kind "release": the router's sticky cookie

    @field_validator("variants")
    @classmethod
    def _variants(cls, v: dict[str, float]) -> dict[str, float]:
        if len(v) < 2:
            raise ValueError("needs at least two variants: the control first, then treatments")
        for name, weight in v.items():
            if not _NAME.match(name):
                raise ValueError(f"{name!r} is not a variant name")
            if weight < 0:
                raise ValueError(f"{name}: weight {weight} is negative")
        if sum(v.values()) <= 0:
            raise ValueError("the weights add up to 0")
        return v

    @field_validator("cohort_header")
    @classmethod
    def _header(cls, v: str) -> str:
        if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", v):
            raise ValueError("must be an HTTP header name")
        return v.lower()

    @model_validator(mode="after")
    def _consistent(self) -> ExperimentSpec:
        if self.kind == "flag" and not self.flag:
            raise ValueError("a 'flag' experiment names its flag ('flag': KEY)")
        if self.kind != "flag" and self.flag:
            raise ValueError(f"'flag' is only for kind 'flag', not {self.kind!r}")
        names = [m.name for m in (*self.metrics, *self.guardrails)]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"metric {dupes[0]!r} is defined twice")
        return self

    @property
    def control(self) -> str:
        return next(iter(self.variants))

    @property
    def treatments(self) -> list[str]:
        return list(self.variants)[1:]

    @property
    def assignment_seed(self) -> str:
        return self.seed or self.key

    @property
    def events(self) -> list[str]:
        out: list[str] = []
        for m in (*self.metrics, *self.guardrails):
            for e in m.events:
                if e not in out:
                    out.append(e)
        return out


def validate_spec(data: Any, source: str = "experiment") -> ExperimentSpec:
    """An ``ExperimentSpec`` or a ``UserError`` with one line: source, path, reason."""
    if not isinstance(data, dict):
        raise UserError(f"{source}: an experiment is a JSON object / TOML table")
    try:
        return ExperimentSpec.model_validate(data)
    except ValidationError as exc:
        raise UserError(one_line(exc, source)) from None


def parse_weights(text: str, what: str = "--weights") -> dict[str, float]:
    """``"a:50,b:50"`` -> ``{"a": 50.0, "b": 50.0}`` (order kept)."""
    out: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, sep, weight = part.rpartition(":")
        try:
            value = float(weight)
        except ValueError:
            value = -1.0
        if not sep or not name or value < 0:
            raise UserError(f"{what}: {part!r} is not NAME:WEIGHT (e.g. control:50,treatment:50)")
        if name in out:
            raise UserError(f"{what}: {name!r} is given twice")
        out[name] = value
    if len(out) < 2:
        raise UserError(f"{what}: give at least two NAME:WEIGHT pairs, the control first")
    return out
