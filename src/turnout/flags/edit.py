"""Edits the CLI and the service make to a flag, and the diffs the audit log keeps. Pure.

``rollout(flag, percent, variant)`` changes a percentage rollout. It applies to

1. a flag whose own ``targeting`` holds exactly one ``fractional`` with two buckets of
   literal variant names and literal weights: the named variant (for a boolean flag,
   by default, the one whose value is true) gets ``percent``, the other the rest; or
2. a flag without targeting that has exactly two variants (for a boolean flag, one
   true and one false): it gets the targeting ``{"fractional": [[v, p], [other, 100-p]]}``.

The buckets keep their order, and the bucketing is ``(hash * total) >> 32``, so a
user is in the first bucket exactly when ``hash / 2**32 < first weight / total``:
raising 10% to 20% keeps every user of the first 10% in it (sticky), whatever the
scale of the weights. Whole percents use weights out of 100; others out of 100,000
(0.001% steps).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from turnout.flags.model import DefinitionError, FlagDefinition, flag_path

__all__ = ["describe_split", "diff", "format_change", "rollout", "with_state"]


def with_state(flag: FlagDefinition, state: str) -> dict[str, Any]:
    out = flag.to_json()
    out["state"] = state
    return out


def rollout(flag: FlagDefinition, percent: float, variant: str | None = None) -> dict[str, Any]:
    """The flag's JSON with its split set to ``percent`` for ``variant``."""
    where = f"flag {flag.key!r}"
    if not 0 <= percent <= 100:
        raise DefinitionError(f"{where}: rollout percent {percent:g} is not between 0 and 100")
    if variant is not None and variant not in flag.variants:
        raise DefinitionError(
            f"{where}: no variant {variant!r}; variants: {', '.join(flag.variants)}"
        )
    out = flag.to_json()
    if not flag.targeting:
        names = list(flag.variants)
        if len(names) != 2:
            raise DefinitionError(
                f"{where}: has no targeting and {len(names)} variants; rollout needs two "
                "variants or a targeting rule with one fractional split (use 'turnout flags set')"
            )
        on = variant or _true_variant(flag, names, where)
        off = names[1] if names[0] == on else names[0]
        out["targeting"] = {"fractional": [[on, 0], [off, 0]]}
        _set_weights(out["targeting"]["fractional"], 0, on, percent)
        return out
    targeting = copy.deepcopy(dict(flag.targeting))
    found = _fractionals(targeting)
    if len(found) != 1:
        raise DefinitionError(
            f"{where}: rollout edits a targeting rule with exactly one fractional split; this "
            f"one has {len(found)} (edit it with 'turnout flags set')"
        )
    args = found[0]
    offset = 0 if args and isinstance(args[0], list) else 1
    buckets = args[offset:]
    if len(buckets) != 2 or not all(_literal_bucket(b, flag) for b in buckets):
        raise DefinitionError(
            f'{where}: rollout edits a split of two buckets ["<variant>", <weight>] with '
            "literal variant names and weights; this split is not one (use 'turnout flags set')"
        )
    names = [b[0] for b in buckets]
    on = variant or _true_variant(flag, names, where)
    if on not in names:
        raise DefinitionError(f"{where}: the split has no bucket for variant {on!r}")
    _set_weights(args, offset, on, percent)
    out["targeting"] = targeting
    return out


def _true_variant(flag: FlagDefinition, names: list[str], where: str) -> str:
    if flag.kind != "boolean":
        raise DefinitionError(
            f"{where}: is a {flag.kind} flag; name the variant that gets the percentage "
            f"with --variant ({' or '.join(names)})"
        )
    true = [n for n in names if flag.variants[n] is True]
    if len(true) != 1:
        raise DefinitionError(f"{where}: name the variant that gets the percentage with --variant")
    return true[0]


def _set_weights(args: list[Any], offset: int, on: str, percent: float) -> None:
    scale = 1 if float(percent).is_integer() else 1000
    total = 100 * scale
    weight = round(percent * scale)
    for bucket in args[offset:]:
        w = weight if bucket[0] == on else total - weight
        if len(bucket) == 1:
            bucket.append(w)
        else:
            bucket[1] = w


def _literal_bucket(bucket: Any, flag: FlagDefinition) -> bool:
    return (
        isinstance(bucket, list)
        and 1 <= len(bucket) <= 2
        and isinstance(bucket[0], str)
        and bucket[0] in flag.variants
        and (len(bucket) == 1 or (isinstance(bucket[1], int) and not isinstance(bucket[1], bool)))
    )


def _fractionals(node: Any) -> list[list[Any]]:
    """The argument lists of every ``fractional`` in ``node`` (the same objects, to edit)."""
    found: list[list[Any]] = []
    if isinstance(node, list):
        for item in node:
            found += _fractionals(item)
    elif isinstance(node, dict):
        for op, args in node.items():
            if op == "fractional" and isinstance(args, list):
                found.append(args)
            found += _fractionals(args)
    return found


def describe_split(flag: FlagDefinition) -> str | None:
    """``on 25% / off 75%`` for a flag whose targeting is one literal split, else None."""
    if not flag.targeting:
        return None
    found = _fractionals(flag.targeting)
    if len(found) != 1:
        return None
    args = found[0]
    buckets = args[0 if args and isinstance(args[0], list) else 1 :]
    if not buckets or not all(_literal_bucket(b, flag) for b in buckets):
        return None
    weights = [b[1] if len(b) > 1 else 1 for b in buckets]
    total = sum(max(0, w) for w in weights) or 1
    return " / ".join(
        f"{b[0]} {100 * max(0, w) / total:.4g}%" for b, w in zip(buckets, weights, strict=True)
    )


def diff(before: Any, after: Any, path: tuple[str | int, ...] = ()) -> list[dict[str, Any]]:
    """What changed from ``before`` to ``after`` (JSON values), one entry per leaf:
    ``{"op": "add" | "remove" | "change", "path": "state", "old": ..., "new": ...}``."""
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[dict[str, Any]] = []
        for key in [*before, *(k for k in after if k not in before)]:
            if key not in after:
                out.append({"op": "remove", "path": flag_path(*path, key), "old": before[key]})
            elif key not in before:
                out.append({"op": "add", "path": flag_path(*path, key), "new": after[key]})
            else:
                out += diff(before[key], after[key], (*path, key))
        return out
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        out = []
        for i, (a, b) in enumerate(zip(before, after, strict=True)):
            out += diff(a, b, (*path, i))
        return out
    if before == after and type(before) is type(after):
        return []
    return [{"op": "change", "path": flag_path(*path) or "(all)", "old": before, "new": after}]


def format_change(change: dict[str, Any]) -> str:
    """One line: ``~ state: "ENABLED" -> "DISABLED"``, ``+ targeting: {...}``, ``- a.b: 1``."""
    op, path = change["op"], change["path"]
    if op == "add":
        return f"+ {path}: {json.dumps(change['new'])}"
    if op == "remove":
        return f"- {path}: {json.dumps(change['old'])}"
    return f"~ {path}: {json.dumps(change['old'])} -> {json.dumps(change['new'])}"
