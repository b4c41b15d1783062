"""flagd's custom JsonLogic operations and JsonLogic's value semantics, as plain functions.

Pure and synchronous. ``compile.py`` wires these into closures; nothing here walks
JSON. The semantics follow flagd (github.com/open-feature/flagd, the JSON evaluator)
and its cross-language vectors (open-feature/flagd-testbed, ``evaluator/gherkin``):

- **fractional** is flagd's "v2" bucketing (flagd ≥ 0.12, testbed tag
  ``@fractional-v2``): MurmurHash3 x86 32-bit, seed 0, over the UTF-8 bytes of the
  bucketing string, read unsigned; ``bucket = (hash * total_weight) >> 32``; the first
  bucket whose cumulative weight exceeds ``bucket`` wins. The default bucketing
  string is ``flag key + targetingKey``. Negative weights count as 0. The CBOR-based
  "v3" of the testbed (``@fractional-v3``) is not implemented (docs/flags.md).
- **sem_ver** compares versions by SemVer 2.0 precedence (build metadata ignored, a
  leading ``v`` allowed, ``1`` and ``1.2`` read as ``1.0.0`` and ``1.2.0``); ``^`` is
  "same major", ``~`` is "same major and minor".
- **starts_with / ends_with** need two strings.

An operation that cannot produce a value (a non-string to ``starts_with``, an invalid
version, no bucketing value, weights that sum to 0) raises ``EvalAbort``: the whole
targeting rule then yields nothing and the flag resolves to its default variant with
reason DEFAULT, as the testbed's ``@operator-errors`` scenarios require.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

import mmh3

__all__ = [
    "MAX_TOTAL_WEIGHT",
    "EvalAbort",
    "SplitVariant",
    "bucket_index",
    "bucket_value",
    "ends_with",
    "js_number",
    "js_string",
    "loose_equal",
    "parse_version",
    "sem_ver",
    "starts_with",
    "strict_equal",
    "truthy",
]

MAX_TOTAL_WEIGHT = 2_147_483_647  # flagd: the sum of the weights must fit an int32

_hash = mmh3.hash


class EvalAbort(Exception):
    """An operation had no value: the flag falls back to its default variant.

    ``code`` is an OpenFeature error code worth reporting alongside (only
    TARGETING_KEY_MISSING today); the reason stays DEFAULT, as in flagd.
    """

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class SplitVariant(str):
    """A variant name chosen by ``fractional``: the result's reason is SPLIT.

    Created once per bucket when a rule is compiled, so marking costs nothing per call.
    """

    __slots__ = ()


# --- fractional ------------------------------------------------------------------------------


def bucket_value(bucketing: str, total_weight: int) -> int:
    """Where ``bucketing`` falls in ``[0, total_weight)`` (flagd v2)."""
    return (_hash(bucketing, 0, False) * total_weight) >> 32


def bucket_index(bucketing: str, cumulative: Sequence[int]) -> int:
    """Index of the bucket that ``bucketing`` lands in; ``cumulative`` are the running
    sums of the weights (the last one is the total, > 0)."""
    return bisect_right(cumulative, bucket_value(bucketing, cumulative[-1]))


def weight_of(value: Any) -> int:
    """A bucket weight: a whole number; negative counts as 0 (flagd clamps them)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EvalAbort(f"fractional: weight {js_string(value)} is not a number")
    if isinstance(value, float):
        if not value.is_integer():
            raise EvalAbort(f"fractional: weight {value} is not a whole number")
        return max(0, int(value))
    return max(0, int(value))


# --- sem_ver ---------------------------------------------------------------------------------

_VERSION = re.compile(
    r"^[vV]?(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?(?:\.(0|[1-9]\d*))?"
    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)

Version = tuple[int, int, int, tuple[tuple[int, int | str], ...]]


def parse_version(text: Any) -> Version:
    """``(major, minor, patch, prerelease key)``; the key sorts as SemVer 2.0 says."""
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise EvalAbort(f"sem_ver: {js_string(text)} is not a version")
    match = _VERSION.match(js_string(text) if not isinstance(text, str) else text)
    if match is None:
        raise EvalAbort(f"sem_ver: {text!r} is not a version")
    major, minor, patch, pre = match.groups()
    key: tuple[tuple[int, int | str], ...]
    if pre is None:
        key = ((2, 0),)  # a release sorts after every prerelease of it
    else:
        key = tuple((0, int(p)) if p.isdigit() else (1, p) for p in pre.split("."))
    return int(major), int(minor or 0), int(patch or 0), key


def sem_ver(left: Any, op: Any, right: Any) -> bool:
    a, b = parse_version(left), parse_version(right)
    if op == "=":
        return a == b
    if op == "!=":
        return a != b
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    if op == ">=":
        return a >= b
    if op == "^":
        return a[0] == b[0]
    if op == "~":
        return a[:2] == b[:2]
    raise EvalAbort(
        f"sem_ver: {js_string(op)!r} is not a comparison; use =, !=, <, <=, >, >=, ^, ~"
    )


SEM_VER_OPERATORS = frozenset({"=", "!=", "<", "<=", ">", ">=", "^", "~"})


# --- string operators ------------------------------------------------------------------------


def starts_with(value: Any, prefix: Any) -> bool:
    if value.__class__ is not str or prefix.__class__ is not str:
        raise EvalAbort("starts_with: both arguments must be strings")
    return bool(value.startswith(prefix))


def ends_with(value: Any, suffix: Any) -> bool:
    if value.__class__ is not str or suffix.__class__ is not str:
        raise EvalAbort("ends_with: both arguments must be strings")
    return bool(value.endswith(suffix))


# --- JsonLogic's (JavaScript's) value semantics ----------------------------------------------


def truthy(value: Any) -> bool:
    """JsonLogic truthiness: JavaScript's, except that an empty array is false."""
    if value is True:
        return True
    if value is False or value is None:
        return False
    if isinstance(value, dict):
        return True
    if isinstance(value, float) and math.isnan(value):
        return False
    return bool(value)


def js_string(value: Any) -> str:
    """``String(value)`` in JavaScript, for ``cat`` and for variant names."""
    if value.__class__ is str:
        return value
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    if isinstance(value, list):
        return ",".join("" if v is None else js_string(v) for v in value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)


def js_number(value: Any) -> float | int:
    """``Number(value)`` in JavaScript (NaN when it is not a number)."""
    if value.__class__ is int or value.__class__ is float:
        return value
    if value is True:
        return 1
    if value is False or value is None:
        return 0
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return 0
        try:
            return (
                float(text)
                if text.lower().lstrip("+-") not in ("inf", "infinity", "nan")
                else math.nan
            )
        except ValueError:
            return math.nan
    if isinstance(value, list):
        return 0 if not value else js_number(value[0]) if len(value) == 1 else math.nan
    return math.nan


def strict_equal(a: Any, b: Any) -> bool:
    """``===``: same JSON type and value (1 and 1.0 are the same number, true is not 1)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return bool(a == b)
    if a.__class__ is not b.__class__:
        return False
    if isinstance(a, list | dict):
        return a is b  # objects are equal only to themselves
    return bool(a == b)


def loose_equal(a: Any, b: Any) -> bool:
    """``==``: JavaScript's abstract equality over JSON values."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool):
        return loose_equal(int(a), b)
    if isinstance(b, bool):
        return loose_equal(a, int(b))
    a_num, b_num = isinstance(a, int | float), isinstance(b, int | float)
    if a_num and b_num:
        return bool(a == b)
    if a_num and isinstance(b, str):
        return bool(a == js_number(b))
    if b_num and isinstance(a, str):
        return bool(js_number(a) == b)
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if isinstance(a, list | dict) and isinstance(b, list | dict):
        return a is b
    if isinstance(a, list | dict):
        return loose_equal(js_string(a), b)
    if isinstance(b, list | dict):
        return loose_equal(a, js_string(b))
    return False


def less(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a < b
    return bool(js_number(a) < js_number(b))


def less_equal(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a <= b
    return bool(js_number(a) <= js_number(b))
