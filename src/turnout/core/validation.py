"""Turning pydantic validation errors into one line a person can act on."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError


class StrictModel(BaseModel):
    """Config and API models: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def error_path(loc: tuple[int | str, ...]) -> str:
    """``("pools", "v1", "instances", 0)`` → ``"pools.v1.instances[0]"``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _message(err: Any) -> str:
    kind = err.get("type", "")
    msg = str(err.get("msg", "invalid"))
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    # pydantic prefixes messages of ValueErrors raised by validators.
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def one_line(exc: ValidationError, source: str) -> str:
    """``"<source>: <path>: <reason>"`` for the first error, and a count of the others."""
    errors = exc.errors()
    first = errors[0]
    path = error_path(tuple(first.get("loc", ())))
    where = f"{source}: {path}" if path else source
    line = f"{where}: {_message(first)}"
    if "input" in first and first.get("type") not in ("missing",) and path:
        value = first["input"]
        if (
            isinstance(value, str | int | float)
            and not isinstance(value, bool)
            and repr(value) not in line
        ):
            line += f" (got {value!r})"
    if len(errors) > 1:
        line += f" (and {len(errors) - 1} more)"
    return line
