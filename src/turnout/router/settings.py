"""Router settings: listeners, limits, timeouts and retry policy.

Defaults follow the peers where one is a clear precedent (noted inline). Every
value can come from the ``[router]`` table of a TOML file; the command-line
flags override the file.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from pathlib import Path

from pydantic import Field, ValidationError, field_validator

from turnout.core.routes import Duration, parse_address
from turnout.core.validation import StrictModel, one_line
from turnout.errors import UserError


class RouterSettings(StrictModel):
    listen: list[str] = Field(default_factory=lambda: ["127.0.0.1:8000"])
    admin: str = "127.0.0.1:8001"
    state_dir: Path | None = None
    token: str | None = Field(default=None, repr=False)

    # Client side. 32 KiB of head: nginx's large_client_header_buffers is 4 x 8k,
    # h11 uses 16 KiB; 100 headers is what Go and Apache allow.
    max_header_bytes: int = Field(32 * 1024, ge=1024)
    max_headers: int = Field(100, ge=1)
    max_body_bytes: int = Field(64 * 1024 * 1024, ge=0)  # 0 = unlimited
    max_connections: int = Field(10_000, ge=1)
    header_timeout: Duration = 10.0  # from the first byte of a request to the end of its head
    body_timeout: Duration = 60.0  # longest silence while a request body is arriving
    keepalive_timeout: Duration = 60.0  # idle client connection (nginx: 75s)

    # Upstream side.
    connect_timeout: Duration = 3.0
    response_timeout: Duration = (
        60.0  # request sent -> first response byte (nginx proxy_read_timeout)
    )
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

    def admin_is_loopback(self) -> bool:
        host, _ = parse_address(self.admin)
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False


def load_settings(
    config: Path | None = None,
    listen: list[str] | None = None,
    admin: str | None = None,
    state_dir: Path | None = None,
    token_file: Path | None = None,
) -> RouterSettings:
    """Settings from an optional TOML file, then flags, then the environment token."""
    data: dict[str, object] = {}
    source = "router settings"
    if config is not None:
        source = f"{config}: [router]"
        try:
            with open(config, "rb") as fh:
                doc = tomllib.load(fh)
        except FileNotFoundError:
            raise UserError(f"{config}: no such file") from None
        except tomllib.TOMLDecodeError as exc:
            raise UserError(f"{config}: not valid TOML ({exc})") from None
        section = doc.get("router", {})
        if not isinstance(section, dict):
            raise UserError(f"{config}: [router] must be a table")
        data.update(section)
    if listen:
        data["listen"] = list(listen)
    if admin:
        data["admin"] = admin
    if state_dir is not None:
        data["state_dir"] = state_dir
    token = os.environ.get("TURNOUT_ROUTER_TOKEN")
    if token_file is not None:
        try:
            token = token_file.read_text().strip()
        except OSError as exc:
            raise UserError(f"--token-file {token_file}: {exc.strerror}") from None
        if not token:
            raise UserError(f"--token-file {token_file}: the file is empty")
    if token:
        data["token"] = token
    try:
        settings = RouterSettings.model_validate(data)
    except ValidationError as exc:
        raise UserError(one_line(exc, source)) from None
    if not settings.admin_is_loopback() and not settings.token:
        raise UserError(
            f"admin {settings.admin}: binding the admin API beyond loopback needs a token "
            "(--token-file or TURNOUT_ROUTER_TOKEN)"
        )
    return settings
