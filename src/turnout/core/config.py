"""``turnout.toml``: the schema, its validation, and errors that name file, line and key.

The names here are the public contract (docs/configuration.md is the reference).
Parsing is pure: ``parse_config(text, filename)`` takes the file's text, so the
CLI, the controller and tests share one validator and one error format:

    turnout.toml:14: deploy.timeout: '3q' is not a duration; use e.g. '500ms', '2s', '5m', '1h'
"""

from __future__ import annotations

import re
import tomllib
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from turnout.core.health import parse_status_ranges
from turnout.core.routes import Duration, HealthSpec, parse_address
from turnout.core.validation import StrictModel, error_path
from turnout.errors import UserError

STRATEGIES = ("recreate", "rolling", "bluegreen", "canary")


class RouterSettings(StrictModel):
    """The router process: listeners, limits, timeouts and retry policy.

    Defaults follow the peers where one is a clear precedent (noted inline).
    """

    listen: list[str] = Field(default_factory=lambda: ["127.0.0.1:8000"])
    admin: str = "127.0.0.1:8001"
    state_dir: str | None = None
    token: str | None = Field(default=None, repr=False)

    # Client side. 32 KiB of head: nginx's large_client_header_buffers is 4 x 8k,
    # h11 uses 16 KiB; 100 headers is what Go and Apache allow.
    max_header_bytes: int = Field(32 * 1024, ge=1024)
    max_headers: int = Field(100, ge=1)
    max_body_bytes: int = Field(64 * 1024 * 1024, ge=0)  # 0 = unlimited
    max_connections: int = Field(10_000, ge=1)
    header_timeout: Duration = 10.0  # first byte of a request -> end of its head
    body_timeout: Duration = 60.0  # longest silence while a request body is arriving
    keepalive_timeout: Duration = 60.0  # idle client connection (nginx: 75s)

    # Upstream side.
    connect_timeout: Duration = 3.0
    response_timeout: Duration = 60.0  # request sent -> first byte (nginx proxy_read_timeout)
    read_timeout: Duration = 60.0  # longest silence inside a response
    upstream_idle_timeout: Duration = 4.0  # below uvicorn's 5 s keep-alive, so we close first
    max_idle_per_instance: int = Field(64, ge=0)

    # Retries: a request that never reached an upstream is always retried elsewhere.
    retries: int = Field(2, ge=0, le=10)  # extra attempts after the first
    retry_idempotent_on_reset: bool = True  # also after a reset before the response began
    retry_buffer_bytes: int = Field(64 * 1024, ge=0)  # request body kept for a replay

    upgrades: list[str] = Field(default_factory=lambda: ["websocket"])
    shutdown_timeout: Duration = 30.0
    idle_close_grace: Duration = 1.0  # on shutdown, idle keep-alive clients get this long

    @field_validator("listen", mode="before")
    @classmethod
    def _one_or_many(cls, v: object) -> object:
        return [v] if isinstance(v, str) else v  # listen = "HOST:PORT" or a list of them

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("at least one HOST:PORT is needed")
        for addr in v:
            parse_address(addr)
        return v

    @field_validator("admin")
    @classmethod
    def _admin(cls, v: str) -> str:
        parse_address(v)
        return v


class AppConfig(StrictModel):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
    command: str
    instances: int = Field(2, ge=1, le=1000)
    env: dict[str, str] = Field(default_factory=dict)
    stop_signal: Literal["SIGTERM", "SIGINT", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGHUP"] = "SIGTERM"
    stop_timeout: Duration = 10.0  # after the signal, SIGKILL

    @field_validator("command")
    @classmethod
    def _command(cls, v: str) -> str:
        if not v.strip():
            raise ValueError('must not be empty; e.g. "python app.py --port {port}"')
        unknown = set(re.findall(r"\{(\w*)\}", v)) - {"port"}
        if unknown:
            raise ValueError(f"unknown placeholder {{{sorted(unknown)[0]}}}; only {{port}} exists")
        return v


class HealthConfig(HealthSpec):
    """Same keys as a route table's pool health (path, interval, timeout, rise, fall, expect)."""


class ControllerConfig(StrictModel):
    api: str = "127.0.0.1:8002"

    @field_validator("api")
    @classmethod
    def _api(cls, v: str) -> str:
        parse_address(v)
        return v


class RollingConfig(StrictModel):
    batch_size: int = Field(1, ge=1)
    max_surge: int = Field(1, ge=0)
    max_unavailable: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _progress(self) -> RollingConfig:
        if self.max_surge == 0 and self.max_unavailable == 0:
            raise ValueError(
                "max_surge and max_unavailable cannot both be 0: the rollout could never "
                "start a new instance or stop an old one"
            )
        return self


class SmokeCheck(StrictModel):
    path: str = "/"
    method: Literal["GET", "HEAD", "POST"] = "GET"
    expect: str = "200-399"
    body_contains: str | None = None

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        if not v.startswith("/"):
            raise ValueError("must start with '/'")
        return v

    @field_validator("expect")
    @classmethod
    def _expect(cls, v: str) -> str:
        parse_status_ranges(v)
        return v


class SmokeConfig(StrictModel):
    """Checks a new release must pass before it gets traffic (bluegreen: through the
    preview route; rolling: against the first new instances)."""

    checks: list[SmokeCheck] = Field(default_factory=list)
    command: str | None = None  # run in the release folder; TURNOUT_PREVIEW_URL is set
    timeout: Duration = 30.0


class BlueGreenConfig(StrictModel):
    preview_header: str = "x-turnout-preview"
    pause_before_switch: bool = False

    @field_validator("preview_header")
    @classmethod
    def _header(cls, v: str) -> str:
        if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", v):
            raise ValueError("must be an HTTP header name")
        return v.lower()


class FlagsConfig(StrictModel):
    """The flag service in the controller (docs/flags.md)."""

    database: str | None = None  # default: sqlite:///<state_dir>/flags.db
    read_token: str | None = Field(default=None, repr=False)  # required to read, when set

    @field_validator("database")
    @classmethod
    def _database(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(
            ("sqlite:///", "postgresql://", "postgres://", "postgresql+psycopg://")
        ):
            raise ValueError(
                f"{v!r} is not a database URL; use 'sqlite:///PATH' or 'postgresql://USER@HOST/DB'"
            )
        return v


class ExperimentsConfig(StrictModel):
    """The experiment service in the controller (docs/experiments.md): where it stores
    experiments and events, the token event senders need, and experiments declared
    here as ``[experiments.<key>]`` tables (checked by the controller when it starts)."""

    database: str | None = None  # default: sqlite:///<state_dir>/experiments.db
    ingest_token: str | None = Field(default=None, repr=False)  # required to post events
    definitions: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _tables(cls, v: Any) -> Any:
        if not isinstance(v, dict):
            return v
        out = {k: x for k, x in v.items() if not isinstance(x, dict) or k == "definitions"}
        tables = {k: x for k, x in v.items() if isinstance(x, dict) and k != "definitions"}
        if tables:
            out["definitions"] = {**out.get("definitions", {}), **tables}
        return out

    @field_validator("database")
    @classmethod
    def _database(cls, v: str | None) -> str | None:
        return FlagsConfig._database(v)


METRICS = ("error_rate", "latency_p50", "latency_p99", "latency_mean")
Metric = Literal["error_rate", "latency_p50", "latency_p99", "latency_mean"]


def _metrics(*names: Metric) -> list[Metric]:
    return list(names)


class PrometheusSource(StrictModel):
    """Where the ``prometheus`` source reads: PromQL with ``{release}`` standing for the
    release's pool name (the router's ``pool`` label)."""

    url: str = "http://127.0.0.1:9090"
    requests: str = 'sum(turnout_requests_total{pool="{release}"})'
    errors: str = 'sum(turnout_requests_total{pool="{release}",code_class="5xx"})'
    latency: str = 'sum by (le) (turnout_request_duration_seconds_bucket{pool="{release}"})'
    timeout: Duration = 5.0


class AnalysisConfig(StrictModel):
    """One ``[analysis.<name>]`` table: which judge, on which data, with which limits."""

    judge: Literal["thresholds", "mann-whitney", "sequential"] = "sequential"
    source: Literal["router", "prometheus"] = "router"
    interval: Duration = 5.0  # between measurements (thresholds, mann-whitney)
    duration: Duration = 60.0  # a blocking analysis step ends (inconclusive) after this
    on_inconclusive: Literal["pause", "rollback"] = "pause"
    min_requests: int = Field(50, ge=0)  # canary requests before any verdict
    # sequential: an always-valid test of the canary's error rate against the baseline's
    alpha: float = Field(0.01, gt=0, lt=0.5)  # the false-alarm rate, whenever it is checked
    max_error_rate_increase: float = Field(0.01, ge=0, lt=1)  # tolerated (absolute, 0.01 = 1 pt)
    # speed only, never alpha: the error rate the test's Beta(1/2, 1/(2 rate)) mixtures
    # favour; canaries failing near it are caught fastest (docs/analysis.md)
    mixture_rate: float = Field(0.02, gt=0, lt=0.5)
    # thresholds: absolute limits with Argo Rollouts' measurement semantics
    max_error_rate: float | None = Field(0.01, ge=0, le=1)
    max_p99_latency: Duration | None = None
    failure_limit: int = Field(0, ge=0)  # failed measurements allowed (the next one fails)
    inconclusive_limit: int = Field(0, ge=0)
    consecutive_error_limit: int = Field(4, ge=0)
    count: int | None = Field(None, ge=1)  # measurements after which the analysis passes
    # mann-whitney: Kayenta-style canary-vs-baseline comparison per metric
    confidence: float = Field(0.98, gt=0.5, lt=1)
    tolerance: float = Field(0.25, ge=0)
    metrics: list[Metric] = Field(default_factory=lambda: _metrics("error_rate", "latency_p99"))
    critical: list[Metric] = Field(default_factory=lambda: _metrics("error_rate"))
    pass_score: float = Field(95.0, ge=0, le=100)
    marginal_score: float = Field(75.0, ge=0, le=100)
    prometheus: PrometheusSource = PrometheusSource()


class CanaryStep(StrictModel):
    """One step of ``[deploy.canary] steps``: a weight (optionally followed by a pause),
    a pause, or a blocking analysis."""

    weight: int | None = Field(None, ge=0, le=100)
    pause: str | None = None  # a duration, or "until-promoted"
    analysis: str | None = None

    @model_validator(mode="after")
    def _kind(self) -> CanaryStep:
        if self.analysis is not None and (self.weight is not None or self.pause is not None):
            raise ValueError('an analysis step stands alone: { analysis = "name" }')
        if self.weight is None and self.pause is None and self.analysis is None:
            raise ValueError("a step needs weight, pause or analysis")
        if self.pause is not None and self.pause != "until-promoted":
            parse_duration_or_error(self.pause)
        return self

    @property
    def pause_seconds(self) -> float | None:
        """The pause as seconds; None for none or until-promoted."""
        if self.pause is None or self.pause == "until-promoted":
            return None
        return parse_duration_or_error(self.pause)


def parse_duration_or_error(value: str) -> float:
    from turnout.core.durations import parse_duration

    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ValueError(f"pause: {exc}, or 'until-promoted'") from None


class CanaryConfig(StrictModel):
    steps: list[CanaryStep] = Field(
        default_factory=lambda: [
            CanaryStep(weight=10, pause="30s"),
            CanaryStep(weight=50, pause="30s"),
        ]
    )
    background_analysis: str | None = None  # runs from the first weight until promotion
    instances: int = Field(1, ge=1)  # canary instances before promotion
    sticky: bool = False  # weights count users (cookie), not requests
    override_header: str = "x-turnout-canary"  # present: the request goes to the canary
    override_cookie: str = "turnout_canary"  # present: the request goes to the canary


class DeployConfig(StrictModel):
    strategy: Literal["recreate", "rolling", "bluegreen", "canary"] = "bluegreen"
    timeout: Duration = 60.0  # new instances must be healthy within this
    drain_timeout: Duration = 30.0
    keep_warm: Duration = 300.0
    watch: Duration = 5.0  # after the switch, an exit or failed check in this window rolls back
    keep_releases: int = Field(10, ge=2)
    rolling: RollingConfig = RollingConfig()
    bluegreen: BlueGreenConfig = BlueGreenConfig()
    canary: CanaryConfig = CanaryConfig()
    smoke: SmokeConfig = SmokeConfig()


class Config(StrictModel):
    state_dir: str = ".turnout"
    app: AppConfig
    health: HealthConfig = HealthConfig()
    router: RouterSettings = RouterSettings()
    controller: ControllerConfig = ControllerConfig()
    deploy: DeployConfig = DeployConfig()
    analysis: dict[str, AnalysisConfig] = Field(
        default_factory=lambda: {"default": AnalysisConfig()}
    )
    migrations: dict[str, Any] = Field(default_factory=dict)  # docs/migrations.md
    flags: FlagsConfig = FlagsConfig()  # docs/flags.md
    experiments: ExperimentsConfig = ExperimentsConfig()  # docs/experiments.md

    @field_validator("migrations")
    @classmethod
    def _migrations(cls, v: dict[str, Any]) -> dict[str, Any]:
        from turnout.core.migrations.settings import known_rule_ids, settings_from_table

        try:
            settings_from_table(v, "[migrations]", known_rule_ids())
        except UserError as exc:
            raise ValueError(exc.message.removeprefix("[migrations]: ")) from None
        return v

    @model_validator(mode="after")
    def _analysis_refs(self) -> Config:
        canary = self.deploy.canary
        names = [s.analysis for s in canary.steps if s.analysis] + (
            [canary.background_analysis] if canary.background_analysis else []
        )
        for name in names:
            if name not in self.analysis:
                known = ", ".join(self.analysis) or "none"
                raise ValueError(
                    f"deploy.canary names analysis {name!r}, but there is no [analysis.{name}] "
                    f"(defined: {known})"
                )
        return self

    @model_validator(mode="after")
    def _ports(self) -> Config:
        seen: dict[str, str] = {}
        for key, addr in (
            *(("router.listen", a) for a in self.router.listen),
            ("router.admin", self.router.admin),
            ("controller.api", self.controller.api),
        ):
            if addr in seen:
                raise ValueError(f"{key} and {seen[addr]} are both {addr}; each needs its own port")
            seen[addr] = key
        return self


# --- parsing with locations -------------------------------------------------------------------

_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_.\"'-]+)\s*=")


def _split_key(key: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in key.split("."))


def locate(text: str, path: tuple[int | str, ...]) -> int | None:
    """The 1-based line where ``path`` (e.g. ``("deploy", "timeout")``) is set, or the
    line of its nearest enclosing table; None when neither appears."""
    want = tuple(str(p) for p in path if not isinstance(p, int))
    best: tuple[int, int] | None = None  # (matched depth, line)
    table: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = _split_key(header.group(1))
            candidate = table
        else:
            key = _KEY.match(line)
            if not key:
                continue
            candidate = table + _split_key(key.group(1))
        depth = 0
        for a, b in zip(candidate, want, strict=False):
            if a != b:
                break
            depth += 1
        if depth == len(candidate) and depth > 0 and (best is None or depth > best[0]):
            best = (depth, number)
    return best[1] if best else None


def parse_config(text: str, filename: str = "turnout.toml") -> Config:
    """Validate a turnout.toml; ``UserError`` with ``file:line: key: reason`` if invalid."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib says "... (at line 3, column 7)": keep the location in our format.
        match = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        where = f"{filename}:{match.group(1)}" if match else filename
        raise UserError(f"{where}: not valid TOML: {reason}") from None
    return validate_config(data, text, filename)


def validate_config(data: dict[str, Any], text: str, filename: str) -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err.get("loc", ()))
        key = error_path(loc)
        line = locate(text, loc)
        where = f"{filename}:{line}" if line else filename
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        kind = err.get("type", "")
        if kind == "extra_forbidden":
            msg = f"unknown key; valid keys here: {_valid_keys(loc)}"
        elif kind == "missing":
            msg = "required key is missing"
            where = filename if not line else where
        elif kind == "literal_error":
            msg = f"{err.get('input')!r} is not valid; {msg.lower()}"
        more = len(exc.errors()) - 1
        suffix = f" (and {more} more)" if more else ""
        raise UserError(f"{where}: {key or 'config'}: {msg}{suffix}") from None


def _valid_keys(loc: tuple[int | str, ...]) -> str:
    model: Any = Config
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None or not hasattr(field.annotation, "model_fields"):
            break
        model = field.annotation
    return ", ".join(model.model_fields)
