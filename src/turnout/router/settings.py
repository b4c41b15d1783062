"""Loading the router's settings: the ``[router]`` table of a TOML file (the
schema is ``turnout.core.config.RouterSettings``), then the command-line flags,
then the token from a file or the environment."""

from __future__ import annotations

import ipaddress
import os
import tomllib
from pathlib import Path

from pydantic import ValidationError

from turnout.core.config import RouterSettings
from turnout.core.routes import parse_address
from turnout.core.validation import one_line
from turnout.errors import UserError

__all__ = ["RouterSettings", "admin_is_loopback", "load_settings"]


def admin_is_loopback(settings: RouterSettings) -> bool:
    host, _ = parse_address(settings.admin)
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
        data["state_dir"] = str(state_dir)
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
    if not admin_is_loopback(settings) and not settings.token:
        raise UserError(
            f"admin {settings.admin}: binding the admin API beyond loopback needs a token "
            "(--token-file or TURNOUT_ROUTER_TOKEN)"
        )
    return settings
