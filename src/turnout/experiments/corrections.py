"""Multiple-comparison corrections across the metrics and variants of one experiment.

With ``m`` comparisons at level ``alpha`` each, the chance that at least one is a
false positive grows towards ``1 - (1 - alpha)^m``. Two standard remedies, as
adjusted p-values (compare them with ``alpha`` as usual):

- **Holm** (Holm 1979): controls the family-wise error rate (no false positive at
  all, with probability ``1 - alpha``), uniformly more powerful than Bonferroni.
  With the p-values sorted ``p_(1) <= ... <= p_(m)``:
  ``adj_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))``.
- **Benjamini-Hochberg** (Benjamini & Hochberg 1995): controls the false discovery
  rate (the expected share of false positives among the "significant" results),
  for independent or positively dependent tests:
  ``adj_(i) = min_{j >= i} min(1, m p_(j) / j)``.

Both are valid for the always-valid p-values of the sequential engine too, read at
any time. ``None`` entries (a comparison without a result yet) stay ``None`` and do
not count in ``m``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

__all__ = ["CORRECTIONS", "Correction", "adjust", "benjamini_hochberg", "holm"]

Correction = Literal["holm", "bh", "none"]
CORRECTIONS = ("holm", "bh", "none")


def _check(p_values: Sequence[float | None]) -> list[tuple[int, float]]:
    present = [(i, float(p)) for i, p in enumerate(p_values) if p is not None]
    for _, p in present:
        if not 0 <= p <= 1:
            raise ValueError(f"p-value {p} is not between 0 and 1")
    return present


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    present = sorted(_check(p_values), key=lambda ip: ip[1])
    m = len(present)
    out: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (i, p) in enumerate(present):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out


def benjamini_hochberg(p_values: Sequence[float | None]) -> list[float | None]:
    present = sorted(_check(p_values), key=lambda ip: ip[1])
    m = len(present)
    out: list[float | None] = [None] * len(p_values)
    running = 1.0
    for rank in range(m - 1, -1, -1):
        i, p = present[rank]
        running = min(running, 1.0, m * p / (rank + 1))
        out[i] = running
    return out


def adjust(p_values: Sequence[float | None], method: Correction) -> list[float | None]:
    if method == "holm":
        return holm(p_values)
    if method == "bh":
        return benjamini_hochberg(p_values)
    if method == "none":
        return list(p_values)
    raise ValueError(f"unknown correction {method!r}; valid: {', '.join(CORRECTIONS)}")
