"""Where a project's state lives, and reading its config and token.

Everything is under ``state_dir`` (default ``.turnout`` next to turnout.toml):
``turnout.db`` (the store), ``token`` (the API token, mode 0600), ``releases/``,
``logs/``, ``router/`` (the router's persisted table) and ``run/`` (pid files of
the router and the controller).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from turnout.core.config import Config, parse_config
from turnout.errors import UserError

DEFAULT_CONFIG = "turnout.toml"


@dataclass(frozen=True)
class Paths:
    config: Path
    root: Path  # the folder holding turnout.toml; relative paths resolve against it
    state_dir: Path

    @classmethod
    def of(cls, config_path: Path, config: Config) -> Paths:
        config_path = config_path.resolve()
        root = config_path.parent
        state = Path(config.state_dir)
        return cls(config_path, root, state if state.is_absolute() else root / state)

    @property
    def db(self) -> Path:
        return self.state_dir / "turnout.db"

    @property
    def token(self) -> Path:
        return self.state_dir / "token"

    @property
    def run(self) -> Path:
        return self.state_dir / "run"

    @property
    def logs(self) -> Path:
        return self.state_dir / "logs"

    @property
    def router_state(self) -> Path:
        return self.state_dir / "router"


def load_config_file(path: Path) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(
            f"{path}: no such file; run 'turnout init' to write one, or pass -c FILE"
        ) from None
    except OSError as exc:
        raise UserError(f"{path}: {exc.strerror}") from None
    return parse_config(text, str(path))


def read_token(paths: Paths) -> str | None:
    try:
        return paths.token.read_text().strip() or None
    except FileNotFoundError:
        return None


def ensure_token(paths: Paths) -> str:
    token = read_token(paths)
    if token:
        return token
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(paths.token, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    return token
