"""From an experiment's sums per variant to its results and decision. Pure.

For each metric and each treatment against the control it computes the fixed-horizon
Welch test, the sequential confidence sequence and the Bayesian read-out (all on the
relative lift, CUPED-adjusted when the metric has pre-period data), then:

- corrects the p-values of the chosen method across goal metrics x treatments
  (Holm by default; guardrails are tested uncorrected, which errs towards catching
  harm);
- gives each comparison a verdict: ``better``, ``worse``, ``inconclusive`` or
  ``not_enough_data`` (frequentist methods: adjusted p < alpha, in the direction of
  the metric's goal; Bayesian: chance to win > 1 - alpha or < alpha);
- checks the sample ratio (SRM, alert at p < 0.001: the results are not trusted);
- says which variant is better: a treatment better on the first metric with no
  guardrail worse (the largest lift if several), the control if every treatment is
  worse on it, else none yet; with the power of the test, the minimum detectable
  effect at the current sample and the units still needed for the planned ``mde``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from turnout.experiments.bayes import bayes
from turnout.experiments.corrections import adjust as correct
from turnout.experiments.cuped import Paired
from turnout.experiments.cuped import adjust as cuped_adjust
from turnout.experiments.model import ExperimentSpec, MetricSpec
from turnout.experiments.power import mde, sample_size
from turnout.experiments.sequential import sequential
from turnout.experiments.stats import (
    Moments,
    NotEnoughData,
    Sample,
    TestResult,
    ratio_sample,
    srm_pvalue,
    welch,
)

__all__ = ["SRM_ALPHA", "UnitSums", "VariantData", "analyze", "collect", "compare"]

SRM_ALPHA = 0.001  # GrowthBook's and Fabijan et al.'s threshold


@dataclass(frozen=True, slots=True)
class VariantData:
    """One variant's sums for one metric over its exposed units."""

    post: Moments  # the metric (the numerator of a ratio) after exposure
    pre: Moments | None = None  # the same before exposure (CUPED), when known
    post_pre: float = 0.0  # sum of post * pre
    denominator: Moments | None = None  # ratio metrics
    post_den: float = 0.0  # sum of numerator * denominator

    @property
    def n(self) -> int:
        return self.post.n


class UnitSums(NamedTuple):
    """One unit's values of one event: summed after its exposure (``post``) and in the
    pre-period (``pre``), with the number of events in each."""

    variant: str
    post: float
    post_n: int
    pre: float
    pre_n: int


def _moments(values: list[float], n: int, binary: bool) -> Moments:
    return Moments(n, float(sum(values)), float(sum(v * v for v in values)), binary)


def collect(
    spec: ExperimentSpec,
    counts: Mapping[str, int],
    sums: Mapping[str, Mapping[str, UnitSums]],
) -> dict[str, dict[str, VariantData]]:
    """Each metric's sums per variant, from the exposed units per variant (``counts``)
    and, per event name, the units that had that event (``sums``; the other exposed
    units count as 0). The pre-period is used when any unit has one."""
    out: dict[str, dict[str, VariantData]] = {}
    for metric in (*spec.metrics, *spec.guardrails):
        binary = metric.kind == "proportion"
        num = sums.get(metric.numerator, {})
        den = sums.get(metric.denominator, {}) if metric.denominator else {}
        has_pre = metric.kind != "ratio" and any(u.pre_n for u in num.values())
        per: dict[str, VariantData] = {}
        for variant in spec.variants:
            n = int(counts.get(variant, 0))
            units = {u: s for u, s in num.items() if s.variant == variant}
            post = [(1.0 if s.post_n else 0.0) if binary else s.post for s in units.values()]
            pre = [(1.0 if s.pre_n else 0.0) if binary else s.pre for s in units.values()]
            if metric.kind == "ratio":
                d_units = {u: s.post for u, s in den.items() if s.variant == variant}
                cross = sum(s.post * d_units.get(u, 0.0) for u, s in units.items())
                per[variant] = VariantData(
                    _moments(post, n, False),
                    denominator=_moments(list(d_units.values()), n, False),
                    post_den=cross,
                )
                continue
            per[variant] = VariantData(
                _moments(post, n, binary),
                _moments(pre, n, binary) if has_pre else None,
                sum(a * b for a, b in zip(post, pre, strict=True)),
            )
        out[metric.name] = per
    return out


def samples(
    metric: MetricSpec, c: VariantData, t: VariantData
) -> tuple[Sample, Sample, float | None]:
    """The two samples a test compares, and CUPED's theta (None: not applied)."""
    if metric.kind == "ratio":
        if c.denominator is None or t.denominator is None:
            raise ValueError(f"{metric.name}: a ratio metric needs denominator sums")
        return (
            ratio_sample(c.post, c.denominator, c.post_den),
            ratio_sample(t.post, t.denominator, t.post_den),
            None,
        )
    if metric.cuped and c.pre is not None and t.pre is not None:
        sc, st, theta = cuped_adjust(
            Paired(c.post, c.pre, c.post_pre), Paired(t.post, t.pre, t.post_pre)
        )
        return sc, st, theta if theta != 0.0 else None
    return c.post.sample(), t.post.sample(), None


def _test_view(r: TestResult) -> dict[str, Any]:
    return {
        "lift": r.estimate,
        "ci_low": r.ci_low,
        "ci_high": r.ci_high,
        "p_value": r.p_value,
        "se": r.se,
        "dof": None if math.isinf(r.dof) else r.dof,
    }


def compare(
    spec: ExperimentSpec, metric: MetricSpec, c: VariantData, t: VariantData
) -> dict[str, Any]:
    """Every read-out of one treatment against the control on one metric."""
    sc, st, theta = samples(metric, c, t)
    out: dict[str, Any] = {
        "control": {"units": sc.n, "mean": sc.raw_mean, "adjusted_mean": sc.mean},
        "treatment": {"units": st.n, "mean": st.raw_mean, "adjusted_mean": st.mean},
        "cuped_theta": theta,
        "frequentist": None,
        "sequential": None,
        "bayesian": None,
        "reason": None,
    }
    try:
        out["frequentist"] = _test_view(welch(sc, st, spec.alpha))
        out["sequential"] = _test_view(sequential(sc, st, spec.alpha, spec.tuning))
        b = bayes(sc, st, spec.alpha, decrease=metric.goal == "decrease")
        out["bayesian"] = {
            "lift": b.mean,
            "ci_low": b.ci_low,
            "ci_high": b.ci_high,
            "chance_to_win": b.chance_to_win,
            "risk_treatment": b.risk_treatment,
            "risk_control": b.risk_control,
        }
    except NotEnoughData as exc:
        out["reason"] = str(exc)
    out["power"] = _power(spec, metric, sc, st)
    return out


def _power(spec: ExperimentSpec, metric: MetricSpec, c: Sample, t: Sample) -> dict[str, Any]:
    if c.n < 2 or t.n < 2 or c.raw_mean == 0 or c.variance <= 0:
        return {"mde": None, "needed": None, "planned": None}
    binary = metric.kind == "proportion"
    share = spec.variants.get(spec.treatments[0], 0.0) / max(1e-12, sum(spec.variants.values()))
    share = min(max(share, 0.01), 0.99)
    detectable = mde(c.raw_mean, c.variance, c.n, t.n, spec.alpha, spec.power, binary)
    planned = sample_size(
        spec.mde, c.raw_mean, c.variance, spec.alpha, spec.power, share, binary,
        sequential=spec.method == "sequential", tuning=spec.tuning,
    )  # fmt: skip
    return {
        "mde": None if math.isinf(detectable) else detectable,
        "planned": planned,  # total units (both variants) for spec.mde at spec.power
        "needed": None if planned is None else max(0, planned - (c.n + t.n)),
    }


def _headline(spec: ExperimentSpec, row: dict[str, Any]) -> dict[str, Any] | None:
    """The chosen method's lift, interval and p-value (or chance to win)."""
    key = "frequentist" if spec.method == "frequentist" else spec.method
    view = row[key]
    if view is None:
        return None
    return {
        "lift": view["lift"],
        "ci_low": view["ci_low"],
        "ci_high": view["ci_high"],
        "p_value": view.get("p_value"),
        "chance_to_win": view.get("chance_to_win"),
    }


def _verdict(spec: ExperimentSpec, metric: MetricSpec, row: dict[str, Any]) -> str:
    head = row["result"]
    if head is None:
        return "not_enough_data"
    up = metric.goal == "increase"
    if spec.method == "bayesian":
        win = head["chance_to_win"]
        if win > 1 - spec.alpha:
            return "better"
        if win < spec.alpha:
            return "worse"
        return "inconclusive"
    p = row["p_adjusted"]
    if p is None or p >= spec.alpha:
        return "inconclusive"
    return "better" if (head["lift"] > 0) == up else "worse"


def analyze(
    spec: ExperimentSpec,
    exposures: Mapping[str, int],
    data: Mapping[str, Mapping[str, VariantData]],
    weights: Mapping[str, float] | None = None,
    conflicts: int = 0,
) -> dict[str, Any]:
    """Results of an experiment: ``exposures`` are units per variant; ``data`` maps a
    metric name to each variant's sums; ``weights`` the split of the current phase."""
    weights = dict(weights or spec.variants)
    names = list(spec.variants)
    observed = [int(exposures.get(v, 0)) for v in names]
    srm = srm_pvalue(observed, [weights.get(v, 0.0) for v in names])
    rows: list[dict[str, Any]] = []
    for guard, metric in [(False, m) for m in spec.metrics] + [(True, m) for m in spec.guardrails]:
        per_variant = data.get(metric.name, {})
        for variant in spec.treatments:
            c, t = per_variant.get(spec.control), per_variant.get(variant)
            if c is None or t is None:
                c = c or VariantData(Moments(0, 0.0, 0.0))
                t = t or VariantData(Moments(0, 0.0, 0.0))
            row = {
                "metric": metric.name,
                "kind": metric.kind,
                "goal": metric.goal,
                "guardrail": guard,
                "variant": variant,
                **compare(spec, metric, c, t),
            }
            row["result"] = _headline(spec, row)
            rows.append(row)
    _correct(spec, rows)
    for row in rows:
        metric = _metric(spec, row["metric"])
        row["verdict"] = _verdict(spec, metric, row)
        if row["verdict"] in ("better", "worse") and row["power"]["needed"] is not None:
            row["power"]["needed"] = 0  # decided: no more units are needed for it
    return {
        "key": spec.key,
        "method": spec.method,
        "alpha": spec.alpha,
        "correction": spec.correction,
        "control": spec.control,
        "exposures": {v: int(exposures.get(v, 0)) for v in names},
        "conflicts": conflicts,
        "srm": {"p_value": srm, "alert": srm < SRM_ALPHA, "weights": weights},
        "comparisons": rows,
        "decision": decide(spec, rows, srm < SRM_ALPHA),
    }


def _metric(spec: ExperimentSpec, name: str) -> MetricSpec:
    return next(m for m in (*spec.metrics, *spec.guardrails) if m.name == name)


def _correct(spec: ExperimentSpec, rows: list[dict[str, Any]]) -> None:
    goal = [r for r in rows if not r["guardrail"]]
    ps = [r["result"]["p_value"] if r["result"] else None for r in goal]
    for row, p in zip(goal, correct(ps, spec.correction), strict=True):
        row["p_adjusted"] = p
    for row in rows:
        if row["guardrail"]:
            row["p_adjusted"] = row["result"]["p_value"] if row["result"] else None


def decide(spec: ExperimentSpec, rows: Sequence[dict[str, Any]], srm_alert: bool) -> dict[str, Any]:
    """The better variant (or none yet) and why."""
    primary = spec.metrics[0].name
    if srm_alert:
        return {
            "winner": None,
            "reason": "sample ratio mismatch: the split differs from the weights "
            "(p < 0.001), so the results are not trusted; check assignment and logging",
        }
    firsts = {r["variant"]: r for r in rows if r["metric"] == primary and not r["guardrail"]}
    harmed = {r["variant"] for r in rows if r["guardrail"] and r["verdict"] == "worse"}
    better = [v for v, r in firsts.items() if r["verdict"] == "better" and v not in harmed]
    if better:
        best = max(better, key=lambda v: _goal_lift(spec, firsts[v]))
        return {"winner": best, "metric": primary, "reason": _why(spec, firsts[best], best)}
    if firsts and all(r["verdict"] == "worse" for r in firsts.values()):
        return {
            "winner": spec.control,
            "metric": primary,
            "reason": f"every treatment is worse than {spec.control} on {primary}",
        }
    if any(firsts[v]["verdict"] == "better" for v in firsts if v in harmed):
        return {"winner": None, "metric": primary, "reason": "better, but a guardrail got worse"}
    return {"winner": None, "metric": primary, "reason": "no significant difference yet"}


def _goal_lift(spec: ExperimentSpec, row: dict[str, Any]) -> float:
    lift = float(row["result"]["lift"])
    return lift if row["goal"] == "increase" else -lift


def _why(spec: ExperimentSpec, row: dict[str, Any], variant: str) -> str:
    r = row["result"]
    level = round(100 * (1 - spec.alpha))
    return (
        f"{variant} vs {spec.control} on {row['metric']}: {r['lift']:+.1%} "
        f"[{r['ci_low']:+.1%}, {r['ci_high']:+.1%}] ({spec.method}, {level}%)"
    )
