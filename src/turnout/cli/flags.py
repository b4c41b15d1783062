"""``turnout flags list | show | set | enable | disable | rollout | delete | import | export |
history``: a thin face over the controller's flag service (docs/flags.md)."""

from __future__ import annotations

import getpass
import json
import os
import time
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.table import Table

from turnout.cli.common import config_option, console, load
from turnout.controller.client import ControllerClient
from turnout.controller.paths import read_token
from turnout.errors import ConflictError, SystemFault, UserError
from turnout.flags.edit import format_change
from turnout.flags.evaluate import build
from turnout.flags.model import DefinitionError, parse_document, validate_document, validate_flag

flags_app = typer.Typer(
    name="flags",
    help="Feature flags (flagd format): list, change, roll out, import/export, audit.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(flags_app, name="flags")


class FlagsClient(ControllerClient):
    """The controller client, with the flag service's statuses (404 is the user's error)."""

    def call(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        try:
            response = self._http.request(method, path, **kw)
        except httpx.ConnectError:
            raise SystemFault(
                f"the controller is not running on {self.api}; start it with 'turnout up'"
            ) from None
        except httpx.HTTPError as exc:
            raise SystemFault(f"controller {self.api}: {exc}") from None
        try:
            data = response.json()
        except ValueError:
            data = {"error": response.text.strip()}
        if response.status_code < 300:
            return dict(data)
        text = str(data.get("error", response.reason_phrase))
        if response.status_code in (400, 401, 404):
            raise UserError(text)
        if response.status_code == 409:
            raise ConflictError(text)
        raise SystemFault(f"controller: {text}")


def _client(config: Path) -> FlagsClient:
    cfg, paths = load(config)
    return FlagsClient(cfg.controller.api, read_token(paths))


def _user() -> str:
    try:
        return os.environ.get("TURNOUT_USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _when(at: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at)) if at else "-"


JSON_OPT = typer.Option(False, "--json", help="Print JSON.")


@flags_app.command("list")
def list_flags(json_out: bool = JSON_OPT, config: Path = config_option()) -> None:
    """Every flag: state, type, default variant, split, version."""
    with _client(config) as api:
        data = api.call("GET", "/v1/flags")
    if json_out:
        typer.echo(json.dumps(data, indent=2))
        return
    table = Table("flag", "state", "type", "default", "targeting", "version", "changed")
    for f in data["flags"]:
        targeting = f["split"] or ("rule" if f["targeting"] else "-")
        state = f["state"] if f["state"] == "ENABLED" else f"[red]{f['state']}[/]"
        table.add_row(
            f["key"],
            state,
            f["kind"],
            f["default_variant"] or "-",
            targeting,
            str(f["version"]),
            f"{_when(f['updated_at'])} {f['updated_by'] or ''}",
        )
    out = console()
    out.print(f"flags version {data['version']}, {len(data['flags'])} flags")
    out.print(table)


@flags_app.command("show")
def show(flag: str, json_out: bool = JSON_OPT, config: Path = config_option()) -> None:
    """One flag's definition (flagd JSON) and version."""
    with _client(config) as api:
        data = api.call("GET", f"/v1/flags/{flag}")
    if json_out:
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo(
        f"# {flag}: version {data['version']}, changed {_when(data['updated_at'])} "
        f"by {data['updated_by']}"
    )
    typer.echo(json.dumps(data["definition"], indent=2))


@flags_app.command("set")
def set_flag(
    flag: str,
    file: Path | None = typer.Option(
        None, "--file", "-f", help="A flag definition, or a flagd document holding this flag."
    ),
    text: str | None = typer.Option(None, "--json", help="The definition as JSON text."),
    if_version: int | None = typer.Option(
        None, "--if-version", help="Only if the flag is still at this version (else: conflict)."
    ),
    config: Path = config_option(),
) -> None:
    """Create or replace a flag from a definition (flagd JSON)."""
    if (file is None) == (text is None):
        raise UserError("give the definition with --file FILE or --json TEXT (one of them)")
    source = str(file) if file else "--json"
    raw = _read_json(file, text, source)
    definition, evaluators = _definition(flag, raw, source)
    if evaluators is not None or not _has_ref(definition):
        validate_flag(flag, definition, source, evaluators or {})
        document = {"flags": {flag: definition}, "$evaluators": evaluators or {}}
        build(validate_document(document, source), 0, source)
    headers = {"If-Match": f'"{if_version}"'} if if_version is not None else {}
    with _client(config) as api:
        data = api.call(
            "PUT",
            f"/v1/flags/{flag}",
            headers=headers,
            json={"definition": definition, "user": _user()},
        )
    _report(data, "set" if data["changed"] else "unchanged")


@flags_app.command("enable")
def enable(flag: str, config: Path = config_option()) -> None:
    """Turn a flag on (it evaluates again)."""
    _set_state(flag, "ENABLED", config)


@flags_app.command("disable")
def disable(flag: str, config: Path = config_option()) -> None:
    """Kill switch: the flag serves every caller's default, in every connected SDK at once."""
    _set_state(flag, "DISABLED", config)


def _set_state(flag: str, state: str, config: Path) -> None:
    with _client(config) as api:
        data = api.call("POST", f"/v1/flags/{flag}/state", json={"state": state, "user": _user()})
    _report(data, state if data["changed"] else f"already {state}")


@flags_app.command("rollout")
def rollout(
    flag: str,
    percent: float = typer.Argument(..., help="0 to 100 (decimals allowed, e.g. 0.5)."),
    variant: str | None = typer.Option(
        None, "--variant", help="The variant that gets PERCENT (default: the true one)."
    ),
    config: Path = config_option(),
) -> None:
    """Set the percentage of a flag's split: its one fractional rule with two buckets, or,
    on a flag without targeting, a new split between its two variants. Sticky: users
    already in keep it when the percentage goes up."""
    with _client(config) as api:
        data = api.call(
            "POST",
            f"/v1/flags/{flag}/rollout",
            json={"percent": percent, "variant": variant, "user": _user()},
        )
    _report(data, f"rollout {percent:g}%")


@flags_app.command("delete")
def delete(flag: str, config: Path = config_option()) -> None:
    """Remove a flag (its history stays)."""
    with _client(config) as api:
        data = api.call("DELETE", f"/v1/flags/{flag}", json={"user": _user()})
    typer.echo(f"{flag}: deleted (flags version {data['flagset_version']})")


@flags_app.command("import")
def import_flags(
    file: Path,
    replace: bool = typer.Option(
        False, "--replace", help="Delete the flags that are not in FILE (default: merge)."
    ),
    config: Path = config_option(),
) -> None:
    """Load a flagd JSON file: its flags are created or replaced."""
    try:
        text = file.read_bytes()
    except OSError as exc:
        raise UserError(f"{file}: cannot read ({exc.strerror})") from None
    document = parse_document(text, str(file))
    build(document, 0, str(file))
    body = {
        "document": document.to_json(),
        "mode": "replace" if replace else "merge",
        "user": _user(),
    }
    with _client(config) as api:
        data = api.call("PUT", "/v1/flagset", json=body)
    changed = data["changed"]
    typer.echo(
        f"imported {file}: {len(changed)} flags changed"
        f"{' (' + ', '.join(changed) + ')' if changed else ''}; "
        f"flags version {data['version']}"
    )
    for warning in data["warnings"]:
        typer.echo(f"warning: {warning}", err=True)


@flags_app.command("export")
def export(
    output: Path | None = typer.Option(None, "-o", "--output", help="Write to this file."),
    config: Path = config_option(),
) -> None:
    """Print the flags as one flagd JSON document (import-able anywhere flagd reads)."""
    with _client(config) as api:
        data = api.call("GET", "/v1/flagset")
    text = json.dumps(data["document"], indent=2) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
        typer.echo(f"wrote {output} (flags version {data['version']})", err=True)


@flags_app.command("history")
def history(
    flag: str,
    limit: int = typer.Option(20, "--limit", "-n"),
    json_out: bool = JSON_OPT,
    config: Path = config_option(),
) -> None:
    """Who changed FLAG, when, and what (as a diff), newest first."""
    with _client(config) as api:
        data = api.call("GET", f"/v1/flags/{flag}/history", params={"limit": limit})
    if json_out:
        typer.echo(json.dumps(data, indent=2))
        return
    for entry in data["history"]:
        typer.echo(f"v{entry['version']}  {_when(entry['at'])}  {entry['user']}  {entry['action']}")
        if entry["after"] is None:
            typer.echo("    (deleted)")
        for change in entry["diff"]:
            typer.echo(f"    {format_change(change)}")


def _report(data: dict[str, Any], what: str) -> None:
    typer.echo(
        f"{data['key']}: {what} (flag version {data['version']}, "
        f"flags version {data['flagset_version']})"
    )
    for warning in data.get("warnings", []):
        typer.echo(f"warning: {warning}", err=True)


def _read_json(file: Path | None, text: str | None, source: str) -> Any:
    try:
        raw = file.read_text() if file is not None else text
    except OSError as exc:
        raise UserError(f"{file}: cannot read ({exc.strerror})") from None
    try:
        return json.loads(raw or "")
    except json.JSONDecodeError as exc:
        raise DefinitionError(
            f"{source}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}"
        ) from None


def _definition(flag: str, raw: Any, source: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The flag's definition and the evaluators given with it (None when not a document)."""
    if isinstance(raw, dict) and "flags" in raw:
        flags = raw["flags"]
        if not isinstance(flags, dict) or flag not in flags:
            raise DefinitionError(f"{source}: flags: has no flag {flag!r}")
        evaluators = raw.get("$evaluators", {})
        return flags[flag], evaluators if isinstance(evaluators, dict) else {}
    if not isinstance(raw, dict):
        raise DefinitionError(f"{source}: a flag definition is a JSON object")
    return raw, None


def _has_ref(node: Any) -> bool:
    if isinstance(node, dict):
        return "$ref" in node or any(_has_ref(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_ref(v) for v in node)
    return False
