"""Evaluation results, and a flag document compiled into one evaluator per flag.

``build(document)`` checks every rule and returns a ``Snapshot``: ``evaluators`` maps
each flag key to a function ``(default, context) -> Evaluation``. The results a flag
can give are built here, once (one immutable ``Evaluation`` per variant and reason),
so an evaluation is a dict lookup, the compiled rule, and a type check; nothing is
allocated on the usual path.

Reasons and error codes are OpenFeature's (openfeature.dev/specification/types):

- ``STATIC``: no targeting; the default variant.
- ``TARGETING_MATCH``: the targeting rule named the variant.
- ``SPLIT``: the variant came out of a ``fractional`` split.
- ``DEFAULT``: the rule gave nothing (null, or an operation without a value); the
  default variant, or the caller's default when the flag has none.
- ``DISABLED``: the flag is disabled; the caller's default.
- ``ERROR`` with ``FLAG_NOT_FOUND``, ``TYPE_MISMATCH`` (the caller's default is not of
  the flag's type), ``GENERAL`` (the rule named something that is not a variant) or
  ``PROVIDER_NOT_READY`` (a connected SDK has no flags yet): the caller's default.

``TARGETING_KEY_MISSING`` comes with reason DEFAULT and the default variant: a split
that needs the targeting key got none, so (as in flagd) the flag serves its default
variant, and the code says why.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, NamedTuple

from turnout.flags import ops
from turnout.flags.compile import Scope, compile_rule, split_name
from turnout.flags.model import (
    FlagDefinition,
    FlagDocument,
    child_path,
    flag_path,
    parse_document,
    resolve_refs,
)
from turnout.flags.ops import EvalAbort, SplitVariant

__all__ = [
    "ErrorCode",
    "Evaluation",
    "Evaluator",
    "Reason",
    "Snapshot",
    "build",
    "load",
    "not_found",
    "not_ready",
]


class Reason(StrEnum):
    STATIC = "STATIC"
    TARGETING_MATCH = "TARGETING_MATCH"
    SPLIT = "SPLIT"
    DEFAULT = "DEFAULT"
    DISABLED = "DISABLED"
    ERROR = "ERROR"


class ErrorCode(StrEnum):
    FLAG_NOT_FOUND = "FLAG_NOT_FOUND"
    TYPE_MISMATCH = "TYPE_MISMATCH"
    PARSE_ERROR = "PARSE_ERROR"
    TARGETING_KEY_MISSING = "TARGETING_KEY_MISSING"
    GENERAL = "GENERAL"
    PROVIDER_NOT_READY = "PROVIDER_NOT_READY"


_NO_METADATA: Mapping[str, Any] = MappingProxyType({})


class Evaluation(NamedTuple):
    """The outcome of one evaluation. Immutable; the same object may be returned again."""

    value: Any
    variant: str | None
    reason: str
    error_code: str | None = None
    error_message: str | None = None
    flag_metadata: Mapping[str, Any] = _NO_METADATA


Evaluator = Callable[[Any, "Mapping[str, Any] | None"], Evaluation]
_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class Snapshot:
    """A compiled flag document at one version."""

    version: int
    document: FlagDocument
    evaluators: Mapping[str, Evaluator]
    warnings: tuple[str, ...] = ()
    received_at: float = field(default=0.0, compare=False)


def load(text: str | bytes, source: str = "flags.json", version: int = 0) -> Snapshot:
    return build(parse_document(text, source), version, source)


def build(
    document: FlagDocument,
    version: int = 0,
    source: str = "flags.json",
    clock: Callable[[], float] = time.time,
) -> Snapshot:
    """Compile every rule of ``document``; ``DefinitionError`` names the first bad one."""
    warnings: list[str] = []
    for name, rule in document.evaluators.items():
        scope = Scope(source, "", clock, warnings)
        path = flag_path("$evaluators", name)
        resolved = resolve_refs(rule, document.evaluators, source, ("$evaluators", name), (name,))
        compile_rule(resolved, scope, path)
    warnings.clear()  # reported again, with the flag, where they are used
    evaluators = {
        key: compile_flag(flag, document, Scope(source, key, clock, warnings))
        for key, flag in document.flags.items()
    }
    return Snapshot(version, document, evaluators, tuple(warnings))


def not_found(key: str, default: Any) -> Evaluation:
    return Evaluation(default, None, Reason.ERROR, ErrorCode.FLAG_NOT_FOUND, f"no flag {key!r}")


def not_ready(key: str, default: Any) -> Evaluation:
    return Evaluation(
        default,
        None,
        Reason.ERROR,
        ErrorCode.PROVIDER_NOT_READY,
        f"flag {key!r}: no flags received from the flag service yet",
    )


def compile_flag(flag: FlagDefinition, document: FlagDocument, scope: Scope) -> Evaluator:
    metadata: Mapping[str, Any] = (
        MappingProxyType({**document.metadata, **flag.metadata})
        if document.metadata or flag.metadata
        else _NO_METADATA
    )
    if not flag.enabled:
        return lambda default, context: Evaluation(
            default, None, Reason.DISABLED, None, None, metadata
        )
    coerce = _coercer(flag, metadata)
    accepted = _accepted_types(flag)
    fallback = _fallback(flag, metadata)
    if not flag.targeting:
        if flag.default_variant is None:
            return lambda default, context: Evaluation(
                default, None, Reason.DEFAULT, None, None, metadata
            )
        static = _result(flag, flag.default_variant, Reason.STATIC, metadata)

        def static_flag(default: Any, context: Mapping[str, Any] | None) -> Evaluation:
            if default.__class__ in accepted:
                return static
            return coerce(static, default)

        return static_flag
    where = ("flags", flag.key, "targeting")
    resolved = resolve_refs(flag.targeting, document.evaluators, scope.source, where)
    rule = compile_rule(resolved, scope, flag_path(*where)).fn
    _check_results(resolved, flag, scope, flag_path(*where))
    match = {name: _result(flag, name, Reason.TARGETING_MATCH, metadata) for name in flag.variants}
    split = {split_name(n): _result(flag, n, Reason.SPLIT, metadata) for n in flag.variants}
    other = _other_results(flag, match, split, fallback, metadata)
    key = flag.key

    def targeted(default: Any, context: Mapping[str, Any] | None) -> Evaluation:
        try:
            name = rule(context if context is not None else _EMPTY)
        except EvalAbort as abort:
            result = fallback(default, abort)
        except Exception as exc:  # a rule must never raise into the application
            return Evaluation(
                default,
                None,
                Reason.ERROR,
                ErrorCode.GENERAL,
                f"flag {key!r}: targeting failed: {exc!r}",
                metadata,
            )
        else:
            cls = name.__class__
            if cls is str:
                result = match.get(name)  # type: ignore[assignment]
            elif cls is SplitVariant:
                result = split.get(name)  # type: ignore[assignment]
            else:
                result = None  # type: ignore[assignment]
            if result is None:
                result = other(name, default)
        if default.__class__ in accepted or result.variant is None:
            return result
        return coerce(result, default)

    return targeted


def _result(
    flag: FlagDefinition, name: str, reason: str, metadata: Mapping[str, Any]
) -> Evaluation:
    return Evaluation(flag.variants[name], name, reason, None, None, metadata)


def _fallback(
    flag: FlagDefinition, metadata: Mapping[str, Any]
) -> Callable[[Any, EvalAbort | None], Evaluation]:
    """The rule gave nothing: the default variant (reason DEFAULT), else the caller's default."""
    name = flag.default_variant
    plain = _result(flag, name, Reason.DEFAULT, metadata) if name is not None else None

    def fallback(default: Any, abort: EvalAbort | None) -> Evaluation:
        if abort is not None and abort.code is not None:
            if name is None:
                return Evaluation(
                    default, None, Reason.DEFAULT, abort.code, abort.message, metadata
                )
            return Evaluation(
                flag.variants[name], name, Reason.DEFAULT, abort.code, abort.message, metadata
            )
        if plain is not None:
            return plain
        return Evaluation(default, None, Reason.DEFAULT, None, None, metadata)

    return fallback


def _other_results(
    flag: FlagDefinition,
    match: Mapping[str, Evaluation],
    split: Mapping[Any, Evaluation],
    fallback: Callable[[Any, EvalAbort | None], Evaluation],
    metadata: Mapping[str, Any],
) -> Callable[[Any, Any], Evaluation]:
    """A rule result that is not a variant name as a plain string."""
    key = flag.key

    def other(name: Any, default: Any) -> Evaluation:
        if name is None:
            return fallback(default, None)
        if isinstance(name, bool | int | float):
            found = match.get(ops.js_string(name))
            if found is not None:
                return found
        if isinstance(name, str):
            found = (split if isinstance(name, SplitVariant) else match).get(str(name))
            if found is not None:
                return found
        shown = ops.js_string(name) if not isinstance(name, str) else name
        return Evaluation(
            default,
            None,
            Reason.ERROR,
            ErrorCode.GENERAL,
            f"flag {key!r}: targeting chose {shown!r}, which is not a variant "
            f"({', '.join(flag.variants)})",
            metadata,
        )

    return other


def _accepted_types(flag: FlagDefinition) -> frozenset[type]:
    """Classes of a caller's default that take a result as it is (None takes any)."""
    kind = flag.kind
    if kind == "boolean":
        return frozenset({bool, type(None)})
    if kind == "string":
        return frozenset({str, type(None)})
    if kind == "object":
        return frozenset({dict, type(None)})
    classes = {type(v) for v in flag.variants.values()}
    return frozenset({*classes, type(None)}) if len(classes) == 1 else frozenset({type(None)})


_TYPE_NAMES = {
    bool: "a boolean",
    str: "a string",
    int: "an integer",
    float: "a float",
    dict: "an object",
    list: "an array",
}


def _coercer(
    flag: FlagDefinition, metadata: Mapping[str, Any]
) -> Callable[[Evaluation, Any], Evaluation]:
    kind, key = flag.kind, flag.key

    def coerce(result: Evaluation, default: Any) -> Evaluation:
        value = result.value
        if kind == "number" and not isinstance(default, bool):
            if isinstance(default, float):
                return result if isinstance(value, float) else result._replace(value=float(value))
            if isinstance(default, int):
                if isinstance(value, int):
                    return result
                if value.is_integer():
                    return result._replace(value=int(value))
        elif (
            (kind == "boolean" and isinstance(default, bool))
            or (kind == "string" and isinstance(default, str))
            or (kind == "object" and isinstance(default, Mapping))
        ):
            return result
        given = _TYPE_NAMES.get(type(default), type(default).__name__)
        if isinstance(default, str):
            given = "a string"
        return Evaluation(
            default,
            None,
            Reason.ERROR,
            ErrorCode.TYPE_MISMATCH,
            f"flag {key!r} has {kind} values; the default given is {given}",
            metadata,
        )

    return coerce


def _check_results(rule: Any, flag: FlagDefinition, scope: Scope, path: str) -> None:
    """Every literal the rule can return must name a variant (or be null)."""
    for value, where in _result_literals(rule, path):
        if value is None:
            continue
        if isinstance(value, list | dict):
            raise scope.error(where, f"a rule returns a variant name, not {ops.js_string(value)!r}")
        name = value if isinstance(value, str) else ops.js_string(value)
        if name not in flag.variants:
            raise scope.error(
                where,
                f"{name!r} is not a variant of this flag; variants: {', '.join(flag.variants)}",
            )


def _result_literals(node: Any, path: str) -> list[tuple[Any, str]]:
    if not isinstance(node, dict):
        return [(node, path)]
    if len(node) != 1:
        return []
    op, args = next(iter(node.items()))
    args = args if isinstance(args, list) else [args]
    here = child_path(path, op)
    found: list[tuple[Any, str]] = []
    if op in ("if", "?:"):
        for i, arg in enumerate(args):
            if i % 2 == 1 or i == len(args) - 1:
                found += _result_literals(arg, f"{here}[{i}]")
    elif op == "fractional":
        offset = 0 if args and isinstance(args[0], list) else 1
        for i, bucket in enumerate(args[offset:], start=offset):
            if isinstance(bucket, list) and bucket:
                found += _result_literals(bucket[0], f"{here}[{i}][0]")
    return found
