"""Sticky assignment: deterministic, independent across experiments, and a re-weighting
moves only the units it must (acceptance 4)."""

from __future__ import annotations

import pytest

from turnout.experiments.assign import (
    SLOTS,
    Layout,
    assign,
    contiguous_layout,
    initial_layout,
    moves,
    reweight,
    slot_counts,
)

UNITS = [f"user-{i}" for i in range(20_000)]


def shares(layout: Layout, seed: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for u in UNITS:
        v = assign(u, seed, layout)
        out[v] = out.get(v, 0) + 1 / len(UNITS)
    return out


def test_assignment_is_deterministic_and_follows_the_weights() -> None:
    layout = initial_layout({"control": 50, "treatment": 50})
    first = [assign(u, "exp-a", layout) for u in UNITS[:1000]]
    assert first == [assign(u, "exp-a", layout) for u in UNITS[:1000]]
    got = shares(layout, "exp-a")
    assert got["control"] == pytest.approx(0.5, abs=0.012)  # 3.4 sd of a binomial share


def test_experiments_are_randomised_independently() -> None:
    layout = initial_layout({"a": 50, "b": 50})
    both = sum(assign(u, "exp-1", layout) == assign(u, "exp-2", layout) for u in UNITS)
    assert both / len(UNITS) == pytest.approx(0.5, abs=0.012)


def test_fifty_fifty_to_sixty_forty_moves_about_ten_percent_of_units() -> None:
    old = initial_layout({"control": 50, "treatment": 50})
    new = reweight(old, {"control": 60, "treatment": 40})
    assert moves(old, new)[0].share == pytest.approx(0.10)
    moved = sum(assign(u, "checkout", old) != assign(u, "checkout", new) for u in UNITS)
    assert moved / len(UNITS) == pytest.approx(0.10, abs=0.007)
    # and every mover went from treatment to control: nobody else changed
    assert all(
        assign(u, "checkout", new) == "control"
        for u in UNITS
        if assign(u, "checkout", old) != assign(u, "checkout", new)
    )


def test_reweighting_moves_the_minimum_with_three_variants() -> None:
    old = initial_layout({"a": 34, "b": 33, "c": 33})
    new = reweight(old, {"a": 50, "b": 25, "c": 25})
    assert new.counts() == slot_counts({"a": 50, "b": 25, "c": 25})
    assert sum(m.share for m in moves(old, new)) == pytest.approx(0.16)
    # laying the new split out from scratch would move more
    assert sum(m.share for m in moves(old, contiguous_layout({"a": 50, "b": 25, "c": 25}))) == (
        pytest.approx(0.24)
    )


def test_reweighting_back_and_forth_and_removing_a_variant() -> None:
    a = initial_layout({"x": 10, "y": 90})
    b = reweight(a, {"x": 50, "y": 50})
    c = reweight(b, {"x": 10, "y": 90})
    assert sum(m.share for m in moves(a, b)) == pytest.approx(0.4)
    assert c.counts() == a.counts()
    d = reweight(a, {"x": 100, "y": 0})
    assert d.counts() == {"x": SLOTS}
    e = reweight(a, {"x": 10, "y": 80, "z": 10})
    assert sum(m.share for m in moves(a, e)) == pytest.approx(0.10)


def test_layout_round_trips_and_rejects_gaps() -> None:
    layout = reweight(initial_layout({"a": 1, "b": 1, "c": 1}), {"a": 3, "b": 1, "c": 1})
    assert Layout.from_json(layout.to_json()) == layout
    with pytest.raises(ValueError, match="gap or overlap"):
        Layout.from_json([[0, 10, "a"], [11, SLOTS, "b"]])
    with pytest.raises(ValueError, match="positive total"):
        slot_counts({"a": 0, "b": 0})
