"""Deterministic, sticky assignment of units to variants, and what a re-weighting moves.

A unit (user id, targeting key, cookie) gets a **slot** in ``[0, SLOTS)``:
``slot = (murmur3_32(seed + ":" + unit) * SLOTS) >> 32`` (MurmurHash3 x86 32-bit,
seed 0, unsigned; ``seed`` is the experiment key unless set), so the same unit always
lands in the same slot of an experiment, and slots of different experiments are
independent. A **layout** gives every slot to one variant as a list of ranges.

A new experiment lays its variants out in order (``initial_layout``). A re-weighting
(``reweight``) moves as few slots as possible: each variant that shrinks gives up
slots from the top of its ranges, and the freed slots go to the variants that grow,
lowest first. Everyone else keeps their variant. The share of units that move is
then the total variation distance between the two splits,
``sum over variants of max(0, new_weight - old_weight)``: 50/50 -> 60/40 moves 10%
of units, and 34/33/33 -> 50/25/25 moves 16%, where laying the new split out from
scratch in the same order would move 24%.

The router's sticky routing (release-level experiments) lays pools out contiguously
in the order of its ``weights``; ``contiguous_layout`` describes that layout, so the
same ``moves`` tells what a change of a release split re-assigns.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import mmh3

__all__ = [
    "SLOTS",
    "Layout",
    "Move",
    "assign",
    "contiguous_layout",
    "initial_layout",
    "moves",
    "reweight",
    "slot_counts",
    "slot_of",
]

SLOTS = 10_000  # 0.01% resolution, as the router's sticky buckets

Range = tuple[int, int, str]  # [start, end) -> variant


@dataclass(frozen=True, slots=True)
class Layout:
    """Disjoint ranges covering ``[0, SLOTS)``, sorted by start."""

    ranges: tuple[Range, ...]

    def variant(self, slot: int) -> str:
        lo, hi = 0, len(self.ranges) - 1
        while lo < hi:  # the last range starting at or before the slot
            mid = (lo + hi + 1) // 2
            if self.ranges[mid][0] <= slot:
                lo = mid
            else:
                hi = mid - 1
        return self.ranges[lo][2]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for start, end, v in self.ranges:
            out[v] = out.get(v, 0) + end - start
        return out

    def to_json(self) -> list[list[int | str]]:
        return [[s, e, v] for s, e, v in self.ranges]

    @classmethod
    def from_json(cls, data: Iterable[Sequence[int | str]]) -> Layout:
        ranges = tuple((int(s), int(e), str(v)) for s, e, v in data)
        check(ranges)
        return cls(ranges)


def check(ranges: Sequence[Range]) -> None:
    at = 0
    for start, end, _ in ranges:
        if start != at or end <= start:
            raise ValueError(
                f"layout: ranges must cover 0..{SLOTS} in order; gap or overlap at {at}"
            )
        at = end
    if at != SLOTS:
        raise ValueError(f"layout: ranges end at {at}, not {SLOTS}")


def slot_of(unit: str, seed: str) -> int:
    return (mmh3.hash(f"{seed}:{unit}", 0, False) * SLOTS) >> 32


def assign(unit: str, seed: str, layout: Layout) -> str:
    """The variant of ``unit`` in an experiment whose seed (key) and layout are given."""
    return layout.variant(slot_of(unit, seed))


def slot_counts(weights: Mapping[str, float]) -> dict[str, int]:
    """Whole slots per variant in proportion to ``weights`` (largest remainder, ties to
    the earlier variant), summing to ``SLOTS``."""
    if not weights:
        raise ValueError("no variants")
    if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise ValueError("weights must be >= 0 with a positive total")
    total = sum(weights.values())
    exact = {v: w * SLOTS / total for v, w in weights.items()}
    counts = {v: int(x) for v, x in exact.items()}
    left = SLOTS - sum(counts.values())
    order = sorted(weights, key=lambda v: (-(exact[v] - counts[v]), list(weights).index(v)))
    for v in order[:left]:
        counts[v] += 1
    return counts


def _merge(ranges: Iterable[Range]) -> tuple[Range, ...]:
    out: list[Range] = []
    for start, end, v in sorted(ranges):
        if out and out[-1][2] == v and out[-1][1] == start:
            out[-1] = (out[-1][0], end, v)
        else:
            out.append((start, end, v))
    return tuple(out)


def contiguous_layout(weights: Mapping[str, float]) -> Layout:
    """Variants laid out in order, each one range (also the router's sticky layout)."""
    at = 0
    ranges: list[Range] = []
    for v, n in slot_counts(weights).items():
        if n:
            ranges.append((at, at + n, v))
            at += n
    return Layout(_merge(ranges))


initial_layout = contiguous_layout


def reweight(layout: Layout, weights: Mapping[str, float]) -> Layout:
    """The layout for the new ``weights`` that moves the fewest slots from ``layout``."""
    target = slot_counts(weights)
    have = layout.counts()
    keep: list[Range] = []
    freed: list[tuple[int, int]] = []
    surplus = {v: have.get(v, 0) - target.get(v, 0) for v in have}
    for start, end, v in sorted(layout.ranges, key=lambda r: -r[0]):  # top ranges first
        give = min(max(surplus.get(v, 0), 0), end - start)
        if give:
            freed.append((end - give, end))
            surplus[v] -= give
        if end - give > start:
            keep.append((start, end - give, v))
    freed.sort()
    out = list(keep)
    for v, want in target.items():
        need = want - have.get(v, 0)
        while need > 0:
            start, end = freed.pop(0)
            take = min(need, end - start)
            out.append((start, start + take, v))
            if start + take < end:
                freed.insert(0, (start + take, end))
            need -= take
    merged = _merge(out)
    check(merged)
    return Layout(merged)


@dataclass(frozen=True, slots=True)
class Move:
    source: str
    target: str
    share: float  # of all units


def moves(old: Layout, new: Layout) -> list[Move]:
    """Which shares of units change variant between two layouts."""
    bounds = sorted({s for s, _, _ in old.ranges} | {s for s, _, _ in new.ranges} | {SLOTS})
    moved: dict[tuple[str, str], int] = {}
    for start, end in itertools.pairwise(bounds):
        a, b = old.variant(start), new.variant(start)
        if a != b:
            moved[(a, b)] = moved.get((a, b), 0) + end - start
    return [Move(a, b, n / SLOTS) for (a, b), n in sorted(moved.items())]
