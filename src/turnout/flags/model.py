"""The flagd flag-definition format: a document of flags, checked and made into values.

Pure: ``parse_document(text, source)`` takes the file's text. A document is

    {"$schema": "...",                       # optional, ignored
     "flags": {"<key>": {"state": "ENABLED" | "DISABLED",
                         "variants": {"<name>": <value>, ...},
                         "defaultVariant": "<name>" | null,      # optional
                         "targeting": {<JsonLogic>},             # optional
                         "metadata": {"<k>": <str|number|bool>}}},
     "$evaluators": {"<name>": {<JsonLogic>}},  # shared rules, used as {"$ref": "<name>"}
     "metadata": {...}}                         # flag-set metadata, merged under each flag's

Every error is one line naming the source, the JSON path and what would be valid:

    flags.json: flags.beta.variants.off: 0 is a number, but 'on' is a boolean; ...

The JsonLogic inside ``targeting`` and ``$evaluators`` is checked by ``compile.py``
(``evaluate.build`` runs both); here ``$ref`` is resolved and cycles are refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from turnout.errors import UserError

__all__ = [
    "DefinitionError",
    "FlagDefinition",
    "FlagDocument",
    "child_path",
    "flag_path",
    "parse_document",
    "resolve_refs",
    "validate_document",
    "validate_flag",
]

STATES = ("ENABLED", "DISABLED")
_FLAG_KEYS = ("state", "variants", "defaultVariant", "targeting", "metadata")
_DOC_KEYS = ("$schema", "flags", "$evaluators", "metadata")
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_$-]+$")
MAX_KEY_LENGTH = 200


class DefinitionError(UserError):
    """A flag definition is invalid; the message names the source, the path and the fix."""


def flag_path(*parts: str | int) -> str:
    """``flags.new-checkout.targeting.if[0]``; keys that are not plain are quoted."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out


def child_path(path: str, key: str) -> str:
    """``path`` (already formatted) with ``key`` appended."""
    if not path:
        return flag_path(key)
    return f"{path}.{key}" if _PLAIN_KEY.match(key) else f"{path}[{json.dumps(key)}]"


def kind_of(value: Any) -> str | None:
    """The flag type a variant value gives: boolean, string, number, object (else None)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, dict):
        return "object"
    return None


_KIND_WORDS = {
    "boolean": "a boolean",
    "string": "a string",
    "number": "a number",
    "object": "an object",
}
_KIND_PLURAL = {
    "boolean": "booleans",
    "string": "strings",
    "number": "numbers",
    "object": "objects",
}


def _json_type(value: Any) -> str:
    kind = kind_of(value)
    if kind is not None:
        return _KIND_WORDS[kind]
    return "null" if value is None else "an array" if isinstance(value, list) else "invalid"


@dataclass(frozen=True)
class FlagDefinition:
    key: str
    state: str
    variants: Mapping[str, Any]
    default_variant: str | None
    targeting: Mapping[str, Any] | None  # as written ($ref not resolved); None when absent/{}
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """boolean, string, number or object (every variant has it)."""
        return kind_of(next(iter(self.variants.values()))) or "object"

    @property
    def enabled(self) -> bool:
        return self.state == "ENABLED"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"state": self.state, "variants": dict(self.variants)}
        if self.default_variant is not None:
            out["defaultVariant"] = self.default_variant
        if self.targeting:
            out["targeting"] = self.targeting
        if self.metadata:
            out["metadata"] = dict(self.metadata)
        return out


@dataclass(frozen=True)
class FlagDocument:
    flags: Mapping[str, FlagDefinition]
    evaluators: Mapping[str, Any] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"flags": {k: f.to_json() for k, f in sorted(self.flags.items())}}
        if self.evaluators:
            out["$evaluators"] = dict(self.evaluators)
        if self.metadata:
            out["metadata"] = dict(self.metadata)
        return out


def parse_document(text: str | bytes, source: str = "flags.json") -> FlagDocument:
    """Parse and check a flagd JSON document (structure and ``$ref``; see ``evaluate.build``
    for the JsonLogic)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DefinitionError(
            f"{source}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}"
        ) from None
    except UnicodeDecodeError as exc:
        raise DefinitionError(f"{source}: not valid UTF-8 ({exc.reason})") from None
    return validate_document(data, source)


def validate_document(data: Any, source: str = "flags.json") -> FlagDocument:
    if not isinstance(data, dict):
        raise DefinitionError(
            f'{source}: the document must be a JSON object like {{"flags": {{...}}}}, '
            f"not {_json_type(data)}"
        )
    for key in data:
        if key not in _DOC_KEYS:
            raise DefinitionError(
                f"{source}: {flag_path(key)}: unknown key; valid keys here: {', '.join(_DOC_KEYS)}"
            )
    flags = data.get("flags")
    if not isinstance(flags, dict):
        found = "missing" if flags is None else f"{_json_type(flags)}, not an object"
        raise DefinitionError(f"{source}: flags: required object of flag definitions is {found}")
    evaluators = data.get("$evaluators", {})
    if not isinstance(evaluators, dict):
        raise DefinitionError(f"{source}: $evaluators: must be an object of named JsonLogic rules")
    metadata = _metadata(data.get("metadata", {}), source, ("metadata",))
    parsed = {key: validate_flag(key, raw, source, evaluators) for key, raw in flags.items()}
    for name, rule in evaluators.items():  # also those no flag uses
        resolve_refs(rule, evaluators, source, ("$evaluators", name), (name,))
    return FlagDocument(parsed, dict(evaluators), metadata)


def validate_flag(
    key: str, raw: Any, source: str, evaluators: Mapping[str, Any] | None = None
) -> FlagDefinition:
    """One flag's structure (state, variants of one type, default variant, metadata), and
    its ``$ref``s against ``evaluators``."""
    where = ("flags", key)
    _check_key(key, source)
    if not isinstance(raw, dict):
        raise DefinitionError(
            f"{source}: {flag_path(*where)}: a flag definition is an object with "
            f"state, variants, defaultVariant, targeting; not {_json_type(raw)}"
        )
    for name in raw:
        if name not in _FLAG_KEYS:
            raise DefinitionError(
                f"{source}: {flag_path(*where, name)}: unknown key; valid keys here: "
                f"{', '.join(_FLAG_KEYS)}"
            )
    state = raw.get("state")
    if state not in STATES:
        shown = "missing" if "state" not in raw else f"{json.dumps(state)} is not valid"
        raise DefinitionError(
            f'{source}: {flag_path(*where, "state")}: {shown}; use "ENABLED" or "DISABLED"'
        )
    variants = _variants(raw.get("variants"), source, (*where, "variants"))
    default = raw.get("defaultVariant")
    if default is not None and (not isinstance(default, str) or default not in variants):
        raise DefinitionError(
            f"{source}: {flag_path(*where, 'defaultVariant')}: {json.dumps(default)} is not one "
            f"of the variants ({', '.join(variants)}); name one of them, or null"
        )
    targeting = raw.get("targeting")
    if targeting is not None and not isinstance(targeting, dict):
        raise DefinitionError(
            f"{source}: {flag_path(*where, 'targeting')}: must be a JsonLogic object "
            f"(or {{}} for none), not {_json_type(targeting)}"
        )
    if targeting:
        resolve_refs(targeting, evaluators or {}, source, (*where, "targeting"))
    metadata = _metadata(raw.get("metadata", {}), source, (*where, "metadata"))
    return FlagDefinition(key, state, variants, default, targeting or None, metadata)


def _check_key(key: str, source: str) -> None:
    if not key or len(key) > MAX_KEY_LENGTH or "/" in key or any(ord(c) < 32 for c in key):
        raise DefinitionError(
            f"{source}: flags: {json.dumps(key)} is not a valid flag key; use 1 to "
            f"{MAX_KEY_LENGTH} characters without '/' or control characters"
        )


def _variants(raw: Any, source: str, where: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(raw, dict) or not raw:
        raise DefinitionError(
            f"{source}: {flag_path(*where)}: required: an object of at least one "
            f'variant, e.g. {{"on": true, "off": false}}'
        )
    first_name, first = next(iter(raw.items()))
    kind = kind_of(first)
    for name, value in raw.items():
        if not name:
            raise DefinitionError(f"{source}: {flag_path(*where)}: a variant name is empty")
        this = kind_of(value)
        if this is None:
            raise DefinitionError(
                f"{source}: {flag_path(*where, name)}: {_json_type(value)} is not a variant "
                f"value; use a boolean, string, number or object"
            )
        if this != kind:
            assert kind is not None
            raise DefinitionError(
                f"{source}: {flag_path(*where, name)}: {json.dumps(value)} is {_KIND_WORDS[this]}, "
                f"but {first_name!r} is {_KIND_WORDS[kind]}; all variants of a flag are "
                f"{_KIND_PLURAL[kind]}"
            )
    return dict(raw)


def _metadata(raw: Any, source: str, where: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise DefinitionError(f"{source}: {flag_path(*where)}: must be an object")
    for name, value in raw.items():
        if kind_of(value) not in ("boolean", "string", "number"):
            raise DefinitionError(
                f"{source}: {flag_path(*where, name)}: metadata values are strings, numbers "
                f"or booleans, not {_json_type(value)}"
            )
    return dict(raw)


def resolve_refs(
    node: Any,
    evaluators: Mapping[str, Any],
    source: str,
    where: tuple[str | int, ...],
    chain: tuple[str, ...] = (),
    origin: str = "",
) -> Any:
    """``node`` with every ``{"$ref": name}`` replaced by that evaluator (resolved in turn).

    A missing evaluator or a cycle is a ``DefinitionError`` at the path of the ``$ref``.
    """
    if isinstance(node, list):
        return [
            resolve_refs(v, evaluators, source, (*where, i), chain, origin)
            for i, v in enumerate(node)
        ]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"]
        here = flag_path(*where, "$ref")
        via = f" (reached from {origin})" if origin and origin != here else ""
        if len(node) != 1 or not isinstance(name, str):
            raise DefinitionError(
                f'{source}: {here}: a reference is exactly {{"$ref": "<evaluator name>"}}'
            )
        if name not in evaluators:
            known = ", ".join(sorted(evaluators)) or "none"
            raise DefinitionError(
                f"{source}: {here}: no evaluator {name!r} in $evaluators (defined: {known}){via}"
            )
        if name in chain:
            cycle = " -> ".join((*chain[chain.index(name) :], name))
            raise DefinitionError(f"{source}: {here}: $ref cycle: {cycle}{via}")
        return resolve_refs(
            evaluators[name],
            evaluators,
            source,
            ("$evaluators", name),
            (*chain, name),
            origin or here,
        )
    return {
        k: resolve_refs(v, evaluators, source, (*where, k), chain, origin) for k, v in node.items()
    }
