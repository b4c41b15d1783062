"""JsonLogic (with flagd's operations) compiled once into Python closures.

``compile_rule(rule, scope)`` returns a function ``data -> value`` built when the
flag set is loaded: the JSON is walked once, here, never per evaluation. Literal
sub-expressions are folded, ``{"var": "x"}`` becomes one ``dict.get``, ``in`` over a
literal list of strings becomes a frozenset lookup and ``$flagd.flagKey`` becomes a
constant. An unknown operator or a malformed operation is a ``DefinitionError`` that
names the JSON path; a rule that is valid but can never work (``sem_ver`` with an
unknown comparison, a split whose weights are all 0) is accepted, as in flagd, and
reported in ``scope.warnings``.

Semantics are JsonLogic's (jsonlogic.com, JavaScript's loose equality and
truthiness) plus flagd's ``fractional``, ``sem_ver``, ``starts_with``, ``ends_with``;
see ``ops.py``.
"""

from __future__ import annotations

import difflib
import json
import time
from bisect import bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from turnout.flags import ops
from turnout.flags.model import DefinitionError, child_path
from turnout.flags.ops import EvalAbort, SplitVariant

__all__ = ["OPERATORS", "Compiled", "Scope", "compile_rule"]

Data = Mapping[str, Any]
Fn = Callable[[Any], Any]
_MISSING = object()


class Compiled(NamedTuple):
    fn: Fn
    const: bool = False
    value: Any = None


@dataclass
class Scope:
    """What the compiler knows about the rule it compiles."""

    source: str
    flag_key: str = ""
    clock: Callable[[], float] = time.time
    warnings: list[str] = field(default_factory=list)

    def error(self, path: str, message: str) -> DefinitionError:
        return DefinitionError(f"{self.source}: {path}: {message}")

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(f"{self.source}: {path}: {message}")


def compile_rule(rule: Any, scope: Scope, path: str) -> Compiled:
    """Compile a JsonLogic rule (``$ref`` already resolved)."""
    if isinstance(rule, dict):
        if len(rule) != 1:
            what = "no operator" if not rule else f"{len(rule)} keys ({', '.join(rule)})"
            raise scope.error(path, f"an operation has exactly one key, the operator; found {what}")
        op, args = next(iter(rule.items()))
        builder = _BUILDERS.get(op)
        if builder is None:
            raise scope.error(path, _unknown(op))
        if not isinstance(args, list):
            args = [args]
        return builder(args, scope, child_path(path, op))
    if isinstance(rule, list):
        items = [compile_rule(v, scope, f"{path}[{i}]") for i, v in enumerate(rule)]
        if all(c.const for c in items):
            return const([c.value for c in items])
        fns = [c.fn for c in items]
        return Compiled(lambda d: [f(d) for f in fns])
    return const(rule)


def _unknown(op: str) -> str:
    close = difflib.get_close_matches(op, OPERATORS, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else "see docs/flags.md#operators"
    return f"unknown operator {op!r}; {hint}"


def const(value: Any) -> Compiled:
    return Compiled(lambda d: value, True, value)


def _fold(fn: Fn, args: list[Compiled]) -> Compiled:
    """``fn`` over ``args``; evaluated now when every argument is a constant."""
    if all(a.const for a in args):
        try:
            return const(fn(None))
        except (EvalAbort, ArithmeticError, TypeError, ValueError):
            pass  # fails at run time, exactly as written
    return Compiled(fn)


def _args(args: list[Any], scope: Scope, path: str) -> list[Compiled]:
    return [compile_rule(a, scope, f"{path}[{i}]") for i, a in enumerate(args)]


def _arity(args: list[Any], lo: int, hi: int | None, scope: Scope, path: str) -> None:
    if len(args) < lo or (hi is not None and len(args) > hi):
        want = f"{lo}" if lo == hi else f"{lo} to {hi}" if hi is not None else f"at least {lo}"
        raise scope.error(
            path, f"takes {want} argument{'s' if want != '1' else ''}, got {len(args)}"
        )


# --- data access ------------------------------------------------------------------------------


def _var(args: list[Any], scope: Scope, path: str) -> Compiled:
    _arity(args, 0, 2, scope, path)
    default = compile_rule(args[1], scope, f"{path}[1]") if len(args) > 1 else const(None)
    name = compile_rule(args[0], scope, f"{path}[0]") if args else const("")
    if not name.const:
        name_fn, default_fn = name.fn, default.fn

        def dynamic(d: Any) -> Any:
            found = _lookup(d, _parts(name_fn(d)))
            return default_fn(d) if found is _MISSING else found

        return Compiled(dynamic)
    key = name.value
    if key is None or key in ("", []):
        return Compiled(lambda d: d)
    if isinstance(key, bool) or not isinstance(key, str | int | float):
        raise scope.error(f"{path}[0]", "a variable name is a string (or an array index)")
    key = ops.js_string(key)
    if key == "$flagd.flagKey":
        return const(scope.flag_key)
    clock, flag_key = scope.clock, scope.flag_key
    if key == "$flagd.timestamp":
        return Compiled(lambda d: int(clock()))
    if key == "$flagd":
        return Compiled(lambda d: {"flagKey": flag_key, "timestamp": int(clock())})
    parts = _parts(key)
    if default.const:
        fallback = default.value
        if len(parts) == 1:
            return Compiled(
                lambda d: (
                    d.get(key, fallback) if d.__class__ is dict else _var_slow(d, parts, fallback)
                )
            )
        return Compiled(lambda d: _var_slow(d, parts, fallback))
    default_fn = default.fn

    def with_default(d: Any) -> Any:
        found = _lookup(d, parts)
        return default_fn(d) if found is _MISSING else found

    return Compiled(with_default)


def _parts(key: Any) -> list[str]:
    return ops.js_string(key).split(".") if key not in (None, "") else []


def _var_slow(d: Any, parts: list[str], fallback: Any) -> Any:
    found = _lookup(d, parts)
    return fallback if found is _MISSING else found


def _lookup(d: Any, parts: list[str]) -> Any:
    for part in parts:
        if isinstance(d, Mapping):
            d = d.get(part, _MISSING)
        elif isinstance(d, list) and part.isdigit() and int(part) < len(d):
            d = d[int(part)]
        else:
            return _MISSING
        if d is _MISSING:
            return _MISSING
    return d


def _missing(args: list[Any], scope: Scope, path: str) -> Compiled:
    items = _args(args, scope, path)

    def fn(d: Any) -> list[Any]:
        names: list[Any] = []
        for item in items:
            value = item.fn(d)
            names.extend(value if isinstance(value, list) else [value])
        return [n for n in names if _lookup(d, _parts(n)) in (_MISSING, None, "")]

    return Compiled(fn)


def _missing_some(args: list[Any], scope: Scope, path: str) -> Compiled:
    _arity(args, 2, 2, scope, path)
    need, names = _args(args, scope, path)

    def fn(d: Any) -> list[Any]:
        wanted = names.fn(d)
        wanted = wanted if isinstance(wanted, list) else [wanted]
        absent = [n for n in wanted if _lookup(d, _parts(n)) in (_MISSING, None, "")]
        return [] if len(wanted) - len(absent) >= ops.js_number(need.fn(d)) else absent

    return Compiled(fn)


# --- logic ------------------------------------------------------------------------------------


def _if(args: list[Any], scope: Scope, path: str) -> Compiled:
    items = _args(args, scope, path)
    if not items:
        return const(None)
    if len(items) == 1:
        return items[0]
    if len(items) == 3:
        (cond, cond_const, cond_value), yes, no = items
        if cond_const:
            return yes if ops.truthy(cond_value) else no
        yes_fn, no_fn, truthy = yes.fn, no.fn, ops.truthy
        if yes.const and no.const:
            a, b = yes.value, no.value
            return Compiled(
                lambda d: a if (c := cond(d)) is True or (c is not False and truthy(c)) else b
            )
        return Compiled(
            lambda d: (
                yes_fn(d) if (c := cond(d)) is True or (c is not False and truthy(c)) else no_fn(d)
            )
        )
    pairs = [(items[i].fn, items[i + 1].fn) for i in range(0, len(items) - 1, 2)]
    last = items[-1].fn if len(items) % 2 else None

    def chain(d: Any) -> Any:
        for cond_fn, then_fn in pairs:
            if ops.truthy(cond_fn(d)):
                return then_fn(d)
        return last(d) if last is not None else None

    return Compiled(chain)


def _or(args: list[Any], scope: Scope, path: str) -> Compiled:
    fns = [c.fn for c in _args(args, scope, path)]

    def fn(d: Any) -> Any:
        value = None
        for f in fns:
            value = f(d)
            if ops.truthy(value):
                return value
        return value

    return Compiled(fn)


def _and(args: list[Any], scope: Scope, path: str) -> Compiled:
    fns = [c.fn for c in _args(args, scope, path)]

    def fn(d: Any) -> Any:
        value = None
        for f in fns:
            value = f(d)
            if not ops.truthy(value):
                return value
        return value

    return Compiled(fn)


def _not(args: list[Any], scope: Scope, path: str) -> Compiled:
    _arity(args, 1, 1, scope, path)
    (a,) = _args(args, scope, path)
    f, truthy = a.fn, ops.truthy
    return _fold(lambda d: not truthy(f(d)), [a])


def _not_not(args: list[Any], scope: Scope, path: str) -> Compiled:
    _arity(args, 1, 1, scope, path)
    (a,) = _args(args, scope, path)
    f, truthy = a.fn, ops.truthy
    return _fold(lambda d: truthy(f(d)), [a])


def _binary(test: Callable[[Any, Any], bool]) -> Callable[[list[Any], Scope, str], Compiled]:
    def build(args: list[Any], scope: Scope, path: str) -> Compiled:
        _arity(args, 2, 2, scope, path)
        a, b = _args(args, scope, path)
        fa, fb = a.fn, b.fn
        if test is ops.strict_equal or test is ops.loose_equal:
            for x, y in ((a, b), (b, a)):
                if y.const and y.value.__class__ is str and not x.const:
                    return Compiled(_equals_string(x.fn, y.value, test is ops.strict_equal))
        return _fold(lambda d: test(fa(d), fb(d)), [a, b])

    return build


def _equals_string(fn: Fn, want: str, strict: bool) -> Fn:
    """``==``/``===`` against a literal string: one string comparison on the usual path."""
    if strict:
        return lambda d: fn(d) == want
    loose = ops.loose_equal
    return lambda d: v == want if (v := fn(d)).__class__ is str else loose(v, want)


def _negated(test: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    return lambda a, b: not test(a, b)


def _compare(test: Callable[[Any, Any], bool]) -> Callable[[list[Any], Scope, str], Compiled]:
    """``<`` and ``<=`` also take three arguments: ``a < b < c``."""

    def build(args: list[Any], scope: Scope, path: str) -> Compiled:
        _arity(args, 2, 3, scope, path)
        items = _args(args, scope, path)
        fns = [c.fn for c in items]
        if len(fns) == 2:
            fa, fb = fns
            return _fold(lambda d: test(fa(d), fb(d)), items)
        fa, fb, fc = fns
        return _fold(lambda d: test(fa(d), b := fb(d)) and test(b, fc(d)), items)

    return build


# --- numbers and strings ----------------------------------------------------------------------


def _numeric(
    args: list[Any],
    scope: Scope,
    path: str,
    fn: Callable[[list[Any]], Any],
    lo: int = 0,
    hi: int | None = None,
) -> Compiled:
    _arity(args, lo, hi, scope, path)
    items = _args(args, scope, path)
    fns = [c.fn for c in items]
    return _fold(lambda d: fn([ops.js_number(f(d)) for f in fns]), items)


def _plus(args: list[Any], scope: Scope, path: str) -> Compiled:
    return _numeric(args, scope, path, sum)


def _times(args: list[Any], scope: Scope, path: str) -> Compiled:
    def product(xs: list[Any]) -> Any:
        out: Any = 1
        for x in xs:
            out *= x
        return out

    return _numeric(args, scope, path, product, 1)


def _minus(args: list[Any], scope: Scope, path: str) -> Compiled:
    return _numeric(args, scope, path, lambda xs: -xs[0] if len(xs) == 1 else xs[0] - xs[1], 1, 2)


def _divide(args: list[Any], scope: Scope, path: str) -> Compiled:
    return _numeric(args, scope, path, lambda xs: xs[0] / xs[1] if xs[1] else None, 2, 2)


def _modulo(args: list[Any], scope: Scope, path: str) -> Compiled:
    return _numeric(args, scope, path, lambda xs: _js_mod(xs[0], xs[1]), 2, 2)


def _js_mod(a: Any, b: Any) -> Any:
    if not b:
        return None
    out = abs(a) % abs(b)
    return -out if a < 0 else out


def _max(args: list[Any], scope: Scope, path: str) -> Compiled:
    return _numeric(args, scope, path, lambda xs: max(xs) if xs else None)


def _min(args: list[Any], scope: Scope, path: str) -> Compiled:
    return _numeric(args, scope, path, lambda xs: min(xs) if xs else None)


def _cat(args: list[Any], scope: Scope, path: str) -> Compiled:
    items = _args(args, scope, path)
    fns, s = [c.fn for c in items], ops.js_string
    if len(fns) == 2:
        fa, fb = fns
        return _fold(lambda d: s(fa(d)) + s(fb(d)), items)
    return _fold(lambda d: "".join(s(f(d)) for f in fns), items)


def _substr(args: list[Any], scope: Scope, path: str) -> Compiled:
    _arity(args, 2, 3, scope, path)
    items = _args(args, scope, path)

    def fn(d: Any) -> str:
        text = ops.js_string(items[0].fn(d))
        start = int(ops.js_number(items[1].fn(d)))
        start = max(0, len(text) + start) if start < 0 else start
        if len(items) < 3:
            return text[start:]
        length = int(ops.js_number(items[2].fn(d)))
        end = len(text) + length if length < 0 else start + length
        return text[start:end]

    return _fold(fn, items)


def _in(args: list[Any], scope: Scope, path: str) -> Compiled:
    _arity(args, 2, 2, scope, path)
    needle, hay = _args(args, scope, path)
    fn_needle, fn_hay = needle.fn, hay.fn
    if hay.const and isinstance(hay.value, list):
        values = hay.value
        if all(v.__class__ is str for v in values):
            members = frozenset(values)  # strict equality over strings is set membership
            return _fold(lambda d: (v := fn_needle(d)).__class__ is str and v in members, [needle])
        return _fold(lambda d: any(ops.strict_equal(fn_needle(d), v) for v in values), [needle])

    def fn(d: Any) -> bool:
        container = fn_hay(d)
        value = fn_needle(d)
        if isinstance(container, str):
            return ops.js_string(value) in container
        if isinstance(container, list):
            return any(ops.strict_equal(value, v) for v in container)
        return False

    return _fold(fn, [needle, hay])


def _merge(args: list[Any], scope: Scope, path: str) -> Compiled:
    items = _args(args, scope, path)

    def fn(d: Any) -> list[Any]:
        out: list[Any] = []
        for item in items:
            value = item.fn(d)
            out.extend(value if isinstance(value, list) else [value])
        return out

    return _fold(fn, items)


def _log(args: list[Any], scope: Scope, path: str) -> Compiled:
    _arity(args, 1, 1, scope, path)
    return _args(args, scope, path)[0]  # evaluation is pure: log returns its argument


# --- arrays -----------------------------------------------------------------------------------


def _over(kind: str) -> Callable[[list[Any], Scope, str], Compiled]:
    def build(args: list[Any], scope: Scope, path: str) -> Compiled:
        _arity(args, 2, 3 if kind == "reduce" else 2, scope, path)
        items = _args(args, scope, path)
        source, logic = items[0].fn, items[1].fn
        initial = items[2].fn if len(items) > 2 else (lambda d: None)
        truthy = ops.truthy

        def fn(d: Any) -> Any:
            values = source(d)
            values = values if isinstance(values, list) else []
            if kind == "map":
                return [logic(v) for v in values]
            if kind == "filter":
                return [v for v in values if truthy(logic(v))]
            if kind == "all":
                return bool(values) and all(truthy(logic(v)) for v in values)
            if kind == "some":
                return any(truthy(logic(v)) for v in values)
            if kind == "none":
                return not any(truthy(logic(v)) for v in values)
            acc = initial(d)
            for v in values:
                acc = logic({"current": v, "accumulator": acc})
            return acc

        return Compiled(fn)

    return build


# --- flagd's operations -----------------------------------------------------------------------


def _starts_ends(test: Callable[[Any, Any], bool], name: str) -> Callable[..., Compiled]:
    def build(args: list[Any], scope: Scope, path: str) -> Compiled:
        if len(args) != 2:
            scope.warn(
                path,
                f"{name} takes 2 arguments, got {len(args)}; it never matches, "
                "so the flag always resolves to its default variant",
            )
            return Compiled(_abort(f"{name}: takes 2 arguments"))
        a, b = _args(args, scope, path)
        fa, fb = a.fn, b.fn
        if b.const and isinstance(b.value, str):
            want = b.value
            if test is ops.starts_with:
                return Compiled(
                    lambda d: v.startswith(want) if (v := fa(d)).__class__ is str else test(v, want)
                )
            return Compiled(
                lambda d: v.endswith(want) if (v := fa(d)).__class__ is str else test(v, want)
            )
        return _fold(lambda d: test(fa(d), fb(d)), [a, b])

    return build


def _abort(message: str) -> Fn:
    def fn(d: Any) -> Any:
        raise EvalAbort(message)

    return fn


def _sem_ver(args: list[Any], scope: Scope, path: str) -> Compiled:
    if len(args) != 3:
        scope.warn(
            path,
            f"sem_ver takes 3 arguments (version, comparison, version), got "
            f"{len(args)}; the flag always resolves to its default variant",
        )
        return Compiled(_abort("sem_ver: takes 3 arguments"))
    left, op, right = _args(args, scope, path)
    if op.const and op.value not in ops.SEM_VER_OPERATORS:
        scope.warn(
            f"{path}[1]",
            f"{json.dumps(op.value)} is not a sem_ver comparison (use "
            "=, !=, <, <=, >, >=, ^, ~); the flag always resolves to "
            "its default variant",
        )
    fl, fo, fr = left.fn, op.fn, right.fn
    if right.const and op.const:
        try:
            fixed = ops.parse_version(right.value)
        except EvalAbort:
            scope.warn(f"{path}[2]", f"{json.dumps(right.value)} is not a version")
        else:
            comparison = op.value
            if comparison in ops.SEM_VER_OPERATORS:
                return Compiled(lambda d: _sem_ver_fixed(fl(d), comparison, fixed))
    return _fold(lambda d: ops.sem_ver(fl(d), fo(d), fr(d)), [left, op, right])


def _sem_ver_fixed(value: Any, op: str, b: ops.Version) -> bool:
    a = ops.parse_version(value)
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
    return a[:2] == b[:2]


def _fractional(args: list[Any], scope: Scope, path: str) -> Compiled:
    if not args:
        raise scope.error(path, 'needs buckets, e.g. {"fractional": [["on", 50], ["off", 50]]}')
    first = args[0]
    by: Compiled | None = None
    if isinstance(first, list):
        buckets = args
        offset = 0
    else:
        by = compile_rule(first, scope, f"{path}[0]")
        buckets = args[1:]
        offset = 1
    if not buckets:
        raise scope.error(
            path, "needs at least one bucket [variant, weight] after the bucketing value"
        )
    variants: list[Compiled] = []
    weights: list[Compiled] = []
    for i, bucket in enumerate(buckets, start=offset):
        where = f"{path}[{i}]"
        if not isinstance(bucket, list) or not 1 <= len(bucket) <= 2:
            raise scope.error(
                where,
                f"a bucket is [variant, weight] (or [variant], weight 1), not {json.dumps(bucket)}",
            )
        variants.append(compile_rule(bucket[0], scope, f"{where}[0]"))
        weight = compile_rule(bucket[1], scope, f"{where}[1]") if len(bucket) > 1 else const(1)
        if weight.const:
            raw = weight.value
            if (
                isinstance(raw, bool)
                or not isinstance(raw, int | float)
                or (isinstance(raw, float) and not raw.is_integer())
            ):
                raise scope.error(
                    f"{where}[1]",
                    f"a weight is a whole number, not "
                    f"{json.dumps(raw)} (weights are relative: "
                    "use 125 and 875 for 12.5% and 87.5%)",
                )
            if raw < 0:
                scope.warn(f"{where}[1]", f"negative weight {raw} counts as 0")
        weights.append(weight)
    for i, v in enumerate(variants, start=offset):
        if v.const and not isinstance(v.value, str | bool | int | float) and v.value is not None:
            raise scope.error(
                f"{path}[{i}][0]", "a bucket's variant is a string, boolean, number or null"
            )
    key = scope.flag_key
    bucketing = _bucketing(by, key)
    if all(w.const for w in weights) and all(v.const for v in variants):
        clamped = [max(0, int(w.value)) for w in weights]
        total = sum(clamped)
        if total > ops.MAX_TOTAL_WEIGHT:
            raise scope.error(
                path, f"the weights add up to {total}, more than {ops.MAX_TOTAL_WEIGHT}"
            )
        if total == 0:
            scope.warn(path, "every weight is 0: the flag always resolves to its default variant")
            return Compiled(_abort("fractional: the weights add up to 0"))
        return Compiled(_fixed_split(bucketing, [v.value for v in variants], clamped))
    return Compiled(_dynamic_split(bucketing, variants, weights))


def _bucketing(by: Compiled | None, flag_key: str) -> Fn:
    """The function giving the string to hash: the bucketing value, or (when it is
    absent or null) the flag key + targetingKey."""

    def from_targeting_key(d: Any) -> str:
        tk = d.get("targetingKey") if d.__class__ is dict or isinstance(d, Mapping) else None
        if tk.__class__ is not str:
            raise EvalAbort(
                "fractional: no bucketing value and no targetingKey in the context",
                "TARGETING_KEY_MISSING",
            )
        return flag_key + tk

    if by is None:
        return from_targeting_key
    if by.const:
        if isinstance(by.value, str):
            fixed = by.value
            return lambda d: fixed
        if by.value is None:
            return from_targeting_key
    by_fn = by.fn

    def from_value(d: Any) -> str:
        value = by_fn(d)
        if value.__class__ is str:
            return value
        if value is None:
            return from_targeting_key(d)
        raise EvalAbort(f"fractional: the bucketing value {ops.js_string(value)} is not a string")

    return from_value


def _marked(value: Any) -> Any:
    return split_name(value) if value.__class__ is str else value


_SPLIT_NAMES: dict[str, SplitVariant] = {}


def split_name(name: str) -> SplitVariant:
    """The one ``SplitVariant`` for ``name``: results are looked up by identity, the fast
    path of a dict lookup."""
    found = _SPLIT_NAMES.get(name)
    if found is None:
        found = _SPLIT_NAMES.setdefault(name, SplitVariant(name))
    return found


def _fixed_split(bucketing: Fn, variants: list[Any], weights: list[int]) -> Fn:
    cumulative: list[int] = []
    running = 0
    for w in weights:
        running += w
        cumulative.append(running)
    total = running
    names = [_marked(v) for v in variants]
    hash32 = ops._hash
    if len(names) == 2 and weights[0] and weights[1]:
        first_end, a, b = cumulative[0], names[0], names[1]
        return lambda d: a if (hash32(bucketing(d), 0, False) * total) >> 32 < first_end else b
    ends = tuple(cumulative)
    chosen = tuple(names)
    index = bisect_right
    return lambda d: chosen[index(ends, (hash32(bucketing(d), 0, False) * total) >> 32)]


def _dynamic_split(bucketing: Fn, variants: list[Compiled], weights: list[Compiled]) -> Fn:
    pairs = [(v.fn, w.fn) for v, w in zip(variants, weights, strict=True)]

    def fn(d: Any) -> Any:
        key = bucketing(d)
        chosen: list[Any] = []
        ends: list[int] = []
        running = 0
        for variant_fn, weight_fn in pairs:
            value = variant_fn(d)
            if not isinstance(value, str | bool | int | float) and value is not None:
                raise EvalAbort("fractional: a bucket's variant is not a string, boolean or number")
            running += ops.weight_of(weight_fn(d))
            chosen.append(value)
            ends.append(running)
        if running == 0 or running > ops.MAX_TOTAL_WEIGHT:
            raise EvalAbort(f"fractional: the weights add up to {running}")
        return _marked(chosen[ops.bucket_index(key, ends)])

    return fn


_BUILDERS: dict[str, Callable[[list[Any], Scope, str], Compiled]] = {
    "var": _var,
    "missing": _missing,
    "missing_some": _missing_some,
    "if": _if,
    "?:": _if,
    "or": _or,
    "and": _and,
    "!": _not,
    "!!": _not_not,
    "==": _binary(ops.loose_equal),
    "===": _binary(ops.strict_equal),
    "!=": _binary(_negated(ops.loose_equal)),
    "!==": _binary(_negated(ops.strict_equal)),
    "<": _compare(ops.less),
    "<=": _compare(ops.less_equal),
    ">": _compare(lambda a, b: ops.less(b, a)),
    ">=": _compare(lambda a, b: ops.less_equal(b, a)),
    "+": _plus,
    "-": _minus,
    "*": _times,
    "/": _divide,
    "%": _modulo,
    "max": _max,
    "min": _min,
    "cat": _cat,
    "substr": _substr,
    "in": _in,
    "merge": _merge,
    "log": _log,
    "map": _over("map"),
    "filter": _over("filter"),
    "reduce": _over("reduce"),
    "all": _over("all"),
    "some": _over("some"),
    "none": _over("none"),
    "fractional": _fractional,
    "sem_ver": _sem_ver,
    "starts_with": _starts_ends(ops.starts_with, "starts_with"),
    "ends_with": _starts_ends(ops.ends_with, "ends_with"),
}

OPERATORS: tuple[str, ...] = tuple(_BUILDERS)
