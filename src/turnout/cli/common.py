"""What every control-plane command shares: the -c/--config option, loading the
config, and a client of the controller."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from turnout.controller.client import ControllerClient
from turnout.controller.paths import DEFAULT_CONFIG, Paths, load_config_file, read_token
from turnout.core.config import Config

CONFIG_HELP = "The project's config file."


def config_option() -> Path:
    return typer.Option(Path(DEFAULT_CONFIG), "-c", "--config", help=CONFIG_HELP)  # type: ignore[no-any-return]


def load(config: Path) -> tuple[Config, Paths]:
    cfg = load_config_file(config)
    return cfg, Paths.of(config, cfg)


def client(config: Path) -> ControllerClient:
    cfg, paths = load(config)
    return ControllerClient(cfg.controller.api, read_token(paths))


def console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, highlight=False)
