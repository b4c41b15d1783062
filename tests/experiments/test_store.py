"""The experiment store on SQLite and a real PostgreSQL: idempotent batches, one exposure
per unit and phase, conflicts, and the per-unit sums the analysis reads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from turnout.errors import ConflictError
from turnout.experiments.analysis import analyze, collect
from turnout.experiments.assign import initial_layout
from turnout.experiments.model import validate_spec
from turnout.experiments.store import ExperimentStore, normalize_url

SPEC = validate_spec(
    {
        "key": "checkout",
        "variants": {"a": 50, "b": 50},
        "metrics": ["buy", {"name": "revenue", "kind": "mean", "event": "buy"}],
    }
)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ExperimentStore]:
    if request.param == "sqlite":
        url = normalize_url("sqlite:///exp.db", tmp_path)
    else:
        server = request.getfixturevalue("postgres_server")
        name = request.getfixturevalue("database")
        url = normalize_url(f"postgresql://postgres@127.0.0.1:{server.port}/{name}")
    s = ExperimentStore(url)
    s.create(SPEC, initial_layout(SPEC.variants).to_json(), "test", at=1000.0)
    s.update("checkout", status="running", started_at=1000.0, phase_started_at=1000.0)
    yield s
    s.close()


def exposure(unit: str, variant: str, at: float = 1100.0) -> dict[str, object]:
    return {"type": "exposure", "experiment": "checkout", "unit": unit, "variant": variant,
            "at": at}  # fmt: skip


def event(i: str, unit: str, value: float = 1.0, at: float = 1200.0) -> dict[str, object]:
    return {"type": "event", "id": i, "unit": unit, "name": "buy", "value": value, "at": at}


def test_a_resent_batch_is_counted_once(store: ExperimentStore) -> None:
    batch = [exposure("u1", "a"), exposure("u2", "b"), event("e1", "u1", 20.0)]
    first = store.ingest(batch, now=2000.0)
    assert (first.accepted, first.duplicates, first.rejected) == (3, 0, [])
    again = store.ingest(batch, now=2001.0)
    assert (again.accepted, again.duplicates) == (0, 3)
    assert store.exposure_counts("checkout", 1) == ({"a": 1, "b": 1}, 0)
    sums = store.unit_sums("checkout", 1, "buy", None, 86_400)
    assert sums["u1"].post == 20.0 and sums["u1"].post_n == 1


def test_a_unit_is_exposed_once_and_a_second_variant_is_a_conflict(
    store: ExperimentStore,
) -> None:
    store.ingest([exposure("u1", "a"), exposure("u1", "a", 1500.0), exposure("u2", "a")], 2000.0)
    assert store.exposure_counts("checkout", 1) == ({"a": 2}, 0)
    store.ingest([exposure("u2", "b", 1600.0)], 2000.0)  # the same unit, another variant
    assert store.exposure_counts("checkout", 1) == ({"a": 1}, 1)
    # a conflict inside one batch too
    store.ingest([exposure("u3", "a"), exposure("u3", "b")], 2000.0)
    assert store.exposure_counts("checkout", 1) == ({"a": 1}, 2)


def test_bad_events_are_rejected_with_the_reason_and_the_rest_kept(
    store: ExperimentStore,
) -> None:
    out = store.ingest(
        [
            {"type": "exposure", "experiment": "nope", "unit": "u", "variant": "a"},
            {"type": "exposure", "experiment": "checkout", "unit": "u", "variant": "c"},
            {"type": "event", "unit": "u", "name": "buy"},
            {"type": "click"},
            event("ok", "u9"),
        ],
        now=2000.0,
    )
    assert out.accepted == 1
    assert [r["error"] for r in out.rejected] == [
        "experiment 'nope' is not running",
        "variant: 'c' is not a variant of checkout (a, b)",
        "id: a string of 1-64 characters is required (it makes re-sends safe)",
        "type: 'click' is not 'exposure' or 'event'",
    ]


def test_pre_period_and_stop_time_windows(store: ExperimentStore) -> None:
    store.ingest(
        [
            exposure("u1", "a", 1100.0),
            event("pre", "u1", 5.0, 1050.0),  # before exposure: the CUPED covariate
            event("old", "u1", 7.0, 10.0),  # before the lookback window: ignored
            event("post", "u1", 3.0, 1150.0),
            event("late", "u1", 4.0, 5000.0),  # after the stop: ignored
        ],
        now=6000.0,
    )
    sums = store.unit_sums("checkout", 1, "buy", 3000.0, 500.0)
    assert (sums["u1"].post, sums["u1"].post_n, sums["u1"].pre, sums["u1"].pre_n) == (
        3.0, 1, 5.0, 1,
    )  # fmt: skip


def test_from_the_store_to_results(store: ExperimentStore) -> None:
    batch = []
    for i in range(400):
        variant = "a" if i % 2 else "b"
        batch.append(exposure(f"u{i}", variant))
        if i % (5 if variant == "a" else 3) == 0:
            batch.append(event(f"e{i}", f"u{i}", 10.0))
    store.ingest(batch, now=2000.0)
    counts, conflicts = store.exposure_counts("checkout", 1)
    sums = {"buy": store.unit_sums("checkout", 1, "buy", None, 0.0)}
    out = analyze(SPEC, counts, collect(SPEC, counts, sums), conflicts=conflicts)
    buy = next(r for r in out["comparisons"] if r["metric"] == "buy")
    assert buy["control"]["units"] == 200 and buy["control"]["mean"] == pytest.approx(0.2)
    assert buy["treatment"]["mean"] == pytest.approx(67 / 200)
    revenue = next(r for r in out["comparisons"] if r["metric"] == "revenue")
    assert revenue["treatment"]["mean"] == pytest.approx(10 * 67 / 200)
    assert revenue["cuped_theta"] is None  # no pre-period data: no CUPED
    # pre-period purchases that predict the later ones: CUPED applies and narrows the interval
    pre = [event(f"p{i}", f"u{i}", 10.0, 1000.0) for i in range(400)
           if i % (5 if i % 2 else 3) == 0 or i % 7 == 0]  # fmt: skip
    store.ingest(pre, now=2000.0)
    sums = {"buy": store.unit_sums("checkout", 1, "buy", None, 500.0)}
    cuped = analyze(SPEC, counts, collect(SPEC, counts, sums))
    adjusted = next(r for r in cuped["comparisons"] if r["metric"] == "revenue")
    assert adjusted["cuped_theta"] > 0
    width = adjusted["frequentist"]["ci_high"] - adjusted["frequentist"]["ci_low"]
    plain = revenue["frequentist"]["ci_high"] - revenue["frequentist"]["ci_low"]
    assert width < 0.8 * plain


def test_keys_are_unique(store: ExperimentStore) -> None:
    with pytest.raises(ConflictError, match="already exists"):
        store.create(SPEC, initial_layout(SPEC.variants).to_json(), "test")
