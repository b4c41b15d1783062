"""``turnout experiments list | show | define | start | weights | results | stop | delete``:
a thin face over the controller's experiment service (docs/experiments.md)."""

from __future__ import annotations

import getpass
import json
import math
import os
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from turnout.cli.common import client, config_option, console, load
from turnout.errors import UserError

experiments_app = typer.Typer(
    name="experiments",
    help="A/B tests: define, start, re-weight, read the results, stop.",
    no_args_is_help=True,
)

JSON_OPT = typer.Option(False, "--json", help="Print JSON.")


def register(app: typer.Typer) -> None:
    app.add_typer(experiments_app, name="experiments")


def _user() -> str:
    try:
        return os.environ.get("TURNOUT_USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _when(at: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at)) if at else "-"


def _split(weights: dict[str, float]) -> str:
    total = sum(weights.values()) or 1.0
    return " / ".join(f"{v} {100 * w / total:g}%" for v, w in weights.items())


@experiments_app.command("list")
def list_experiments(json_out: bool = JSON_OPT, config: Path = config_option()) -> None:
    """Every experiment: kind, status, split, units exposed, started."""
    with client(config) as api:
        data = api.call("GET", "/v1/experiments")
    if json_out:
        typer.echo(json.dumps(data, indent=2))
        return
    table = Table("experiment", "kind", "status", "phase", "split", "units", "started")
    for e in data["experiments"]:
        units = sum(e["exposures"].values())
        table.add_row(
            e["key"], e["kind"], e["status"], str(e["phase"]), _split(e["weights"]), str(units),
            _when(e["started_at"]),
        )  # fmt: skip
    console().print(table)


@experiments_app.command("show")
def show(key: str, json_out: bool = JSON_OPT, config: Path = config_option()) -> None:
    """One experiment's definition, status and exposures."""
    with client(config) as api:
        data = api.call("GET", f"/v1/experiments/{key}")
    if json_out:
        typer.echo(json.dumps(data, indent=2))
        return
    spec = data["spec"]
    typer.echo(f"{key}: {data['kind']}, {data['status']} (phase {data['phase']})")
    if spec.get("flag"):
        typer.echo(f"  flag:       {spec['flag']}")
    typer.echo(f"  split:      {_split(data['weights'])} (control: {next(iter(spec['variants']))})")
    typer.echo(f"  unit:       {spec['unit']}")
    typer.echo(f"  metrics:    {', '.join(_metric(m) for m in spec['metrics'])}")
    if spec["guardrails"]:
        typer.echo(f"  guardrails: {', '.join(_metric(m) for m in spec['guardrails'])}")
    typer.echo(f"  method:     {spec['method']}, alpha {spec['alpha']}, {spec['correction']}")
    exposed = ", ".join(f"{v} {n}" for v, n in data["exposures"].items()) or "none yet"
    typer.echo(f"  units:      {exposed}" + (f" ({data['conflicts']} in two variants, left out)"
                                              if data["conflicts"] else ""))  # fmt: skip
    typer.echo(f"  started:    {_when(data['started_at'])}   stopped: {_when(data['stopped_at'])}")


def _metric(m: dict[str, Any]) -> str:
    what = m["event"] or m["name"]
    if m["kind"] == "ratio":
        what = f"{what}/{m['denominator']}"
    goal = "" if m["goal"] == "increase" else ", lower is better"
    return f"{m['name']} ({m['kind']} of {what}{goal})"


@experiments_app.command("define")
def define(
    file: Path = typer.Argument(..., help="A JSON or TOML file with one experiment."),
    start: bool = typer.Option(False, "--start", help="Start it at once."),
    config: Path = config_option(),
) -> None:
    """Define an experiment from a file (checked here first, named by the file)."""
    from turnout.experiments.model import validate_spec

    try:
        text = file.read_text()
    except OSError as exc:
        raise UserError(f"{file}: cannot read ({exc.strerror})") from None
    try:
        raw = tomllib.loads(text) if file.suffix == ".toml" else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"{file}: not valid {file.suffix.lstrip('.') or 'JSON'}: {exc}") from None
    spec = validate_spec(raw, str(file))
    with client(config) as api:
        data = api.call(
            "POST", "/v1/experiments",
            json={"spec": spec.model_dump(mode="json"), "start": start, "user": _user()},
        )  # fmt: skip
    typer.echo(f"{data['key']}: defined ({data['status']}), split {_split(data['weights'])}")


def _metrics(names: list[str], guard: bool) -> list[dict[str, Any]]:
    out = []
    for text in names:
        name, _, kind = text.partition(":")
        metric: dict[str, Any] = {"name": name, "kind": kind or "proportion"}
        if kind == "ratio":
            num, sep, den = name.partition("/")
            if not sep:
                raise UserError(f"{text!r}: a ratio metric is NUM/DEN:ratio, e.g. clicks/sessions")
            metric = {"name": name.replace("/", "_per_"), "kind": "ratio", "event": num,
                      "denominator": den}  # fmt: skip
        if guard:
            metric["goal"] = "decrease"
        out.append(metric)
    return out


@experiments_app.command("start")
def start(
    key: str,
    releases: str | None = typer.Option(
        None,
        "--releases",
        help="A release-level test: NAME:WEIGHT,... (the control first); "
        "a name is a release or a folder to ingest.",
    ),
    variants: str | None = typer.Option(
        None, "--variants", help="An SDK test: VARIANT:WEIGHT,... (the control first)."
    ),
    flag: str | None = typer.Option(None, "--flag", help="The variants are this flag's."),
    metric: list[str] = typer.Option(
        [],
        "--metric",
        help="EVENT (conversion), EVENT:mean (value per unit) or "
        "NUM/DEN:ratio; repeat for more; the first decides.",
    ),
    guardrail: list[str] = typer.Option(
        [], "--guardrail", help="Like --metric, for something that must not go up."
    ),
    method: str = typer.Option("sequential", "--method", help="sequential, frequentist, bayesian."),
    unit: str | None = typer.Option(None, "--unit", help="What a unit is (user_id, cookie, ...)."),
    config: Path = config_option(),
) -> None:
    """Start an experiment: one defined before, or a new one from the options."""
    from turnout.experiments.model import parse_weights, validate_spec

    with client(config) as api:
        if releases is None and variants is None:
            data = api.call("POST", f"/v1/experiments/{key}/start", json={"user": _user()})
        else:
            if (releases is None) == (variants is None):
                raise UserError("give --releases (release-level) or --variants, not both")
            if not metric:
                raise UserError("a new experiment needs at least one --metric (e.g. conversion)")
            weights = parse_weights(
                releases or variants or "", "--releases" if releases else "--variants"
            )
            raw = {
                "key": key,
                "kind": "release" if releases else ("flag" if flag else "code"),
                "variants": weights,
                "unit": unit or ("cookie" if releases else "user_id"),
                "metrics": _metrics(metric, False),
                "guardrails": _metrics(guardrail, True),
                "method": method,
            }
            if flag:
                raw["flag"] = flag
            spec = validate_spec(raw, "options")
            data = api.call(
                "POST", "/v1/experiments",
                json={"spec": spec.model_dump(mode="json"), "start": True, "user": _user()},
                timeout=180,
            )  # fmt: skip
    state = data.get("release_state") or {}
    where = f", router generation {state['generation']}" if state.get("generation") else ""
    typer.echo(f"{data['key']}: running, split {_split(data['weights'])}{where}")


@experiments_app.command("weights")
def weights(
    key: str,
    split: str = typer.Argument(..., help="VARIANT:WEIGHT,... for every variant."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Apply without asking."),
    config: Path = config_option(),
) -> None:
    """Change the split. Shows first how many units it re-assigns; a running experiment
    starts a new phase (the analysis counts the units exposed from then on)."""
    from turnout.experiments.model import parse_weights

    new = parse_weights(split, "SPLIT")
    with client(config) as api:
        preview = api.call(
            "POST", f"/v1/experiments/{key}/weights", json={"weights": new, "dry_run": True}
        )
        typer.echo(_describe_moves(preview))
        if not yes and not sys.stdin.isatty():
            typer.echo("not applied: no terminal to ask; add --yes to apply", err=True)
            raise typer.Exit(1)
        if not yes and not typer.confirm("apply?", default=False):
            raise typer.Exit(1)
        done = api.call(
            "POST", f"/v1/experiments/{key}/weights", json={"weights": new, "user": _user()}
        )
    typer.echo(f"{key}: split {_split(new)} (phase {done['phase']})")


def _describe_moves(p: dict[str, Any]) -> str:
    if not p["moves"]:
        return "this split re-assigns nobody"
    parts = ", ".join(f"{m['share']:.1%} {m['from']} -> {m['to']}" for m in p["moves"])
    line = f"this re-assigns {p['moved_share']:.1%} of units ({parts})"
    if p["exposed_units"]:
        line += f"; {p['exposed_moving']} of the {p['exposed_units']} units exposed so far"
    if p["new_phase"]:
        line += "; the analysis restarts with a new phase"
    return line


@experiments_app.command("results")
def results(
    key: str,
    json_out: bool = JSON_OPT,
    report: bool = typer.Option(False, "--report", help="Also write a PNG and an HTML page."),
    out: Path | None = typer.Option(
        None, "--out", help="Folder for the report [default: <state_dir>/reports]."
    ),
    config: Path = config_option(),
) -> None:
    """The results: per metric and variant, the lift with its interval, and which is better."""
    with client(config) as api:
        data = api.call("GET", f"/v1/experiments/{key}/results", timeout=300)
    if json_out:
        typer.echo(json.dumps(data, indent=2))
    else:
        _print_results(data)
    if report:
        from turnout.experiments.plot import write_report

        _, paths = load(config)
        png, page = write_report(data, out or paths.state_dir / "reports", f"experiment-{key}")
        typer.echo(f"wrote {page}\n      {png}", err=json_out)


def _pct(v: float | None) -> str:
    return "-" if v is None or not math.isfinite(v) else f"{v:+.2%}"


def _print_results(data: dict[str, Any]) -> None:
    # a pipe or a file gets the whole table, not one squeezed to 80 columns
    out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    level = round(100 * (1 - data["alpha"]))
    units = ", ".join(f"{v} {n}" for v, n in data["exposures"].items())
    out.print(f"{data['key']}: {data['status']}, phase {data['phase']}; units: {units}")
    srm = data["srm"]
    note = "  [red]ALERT: the split is off, results not trusted[/]" if srm["alert"] else ""
    out.print(f"sample ratio check: p = {srm['p_value']:.3g}{note}")
    if data["conflicts"]:
        out.print(f"{data['conflicts']} units saw two variants and are left out")
    interval = {"bayesian": "credible", "sequential": "always-valid"}.get(data["method"], "CI")
    table = Table(
        "metric", "variant", data["control"], "variant mean", "lift",
        f"{level}% {interval}", "p (adj.)" if data["method"] != "bayesian" else "P(better)",
        "verdict", "MDE", "units needed",
    )  # fmt: skip
    for row in data["comparisons"]:
        r = row["result"] or {}
        power = row["power"]
        if data["method"] == "bayesian":
            p = f"{r['chance_to_win']:.1%}" if r else "-"
        else:
            p = f"{row['p_adjusted']:.3g}" if row.get("p_adjusted") is not None else "-"
        color = {"better": "green", "worse": "red"}.get(row["verdict"])
        verdict = f"[{color}]{row['verdict']}[/]" if color else row["verdict"]
        table.add_row(
            row["metric"] + (" (guardrail)" if row["guardrail"] else ""), row["variant"],
            f"{row['control']['mean']:.4g}", f"{row['treatment']['mean']:.4g}",
            _pct(r.get("lift")),
            f"[{_pct(r.get('ci_low'))}, {_pct(r.get('ci_high'))}]" if r else "-",
            p, verdict,
            _pct(power["mde"]).lstrip("+") if power["mde"] else "-",
            str(power["needed"]) if power["needed"] is not None else "-",
        )  # fmt: skip
    out.print(table)
    decision = data["decision"]
    winner = decision.get("winner")
    if winner:
        out.print(f"[bold]better: {winner}[/] — {decision['reason']}")
    else:
        out.print(f"no winner yet: {decision['reason']}")


@experiments_app.command("stop")
def stop(key: str, json_out: bool = JSON_OPT, config: Path = config_option()) -> None:
    """Stop: the results are frozen; a release-level test routes everyone back to the live
    release (the others stay warm)."""
    with client(config) as api:
        data = api.call("POST", f"/v1/experiments/{key}/stop", json={"user": _user()}, timeout=120)
    if json_out:
        typer.echo(json.dumps(data, indent=2))
        return
    decision = data["results"]["decision"]
    typer.echo(f"{key}: stopped; {decision.get('winner') or 'no winner'}: {decision['reason']}")
    state = (data.get("release_state") or {}).get("stopped")
    if state:
        typer.echo(
            f"  everyone is on {state['live']} again; warm: {', '.join(state['warm']) or '-'}"
        )


@experiments_app.command("delete")
def delete(key: str, config: Path = config_option()) -> None:
    """Remove an experiment that is not running, with its exposures."""
    with client(config) as api:
        api.call("DELETE", f"/v1/experiments/{key}")
    typer.echo(f"{key}: deleted")
