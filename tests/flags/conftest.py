from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.project import (
    Project,
    project,  # noqa: F401 - the fixture, for these tests
)

BOOL_FLAG = {
    "state": "ENABLED",
    "variants": {"on": True, "off": False},
    "defaultVariant": "off",
    "targeting": {
        "if": [
            {"in": [{"var": "country"}, ["US", "CA"]]},
            {"fractional": [["on", 50], ["off", 50]]},
            "off",
        ]
    },
}
DOCUMENT = {
    "flags": {
        "new-checkout": BOOL_FLAG,
        "banner": {
            "state": "ENABLED",
            "variants": {"a": "Hello", "b": "Hi"},
            "defaultVariant": "a",
        },
        "beta": {
            "state": "ENABLED",
            "variants": {"on": True, "off": False},
            "defaultVariant": "on",
        },
    }
}


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """One controller for a module's tests (starting one takes a second)."""
    from support.system import free_port

    root = tmp_path_factory.mktemp("flags")
    p = Project(root / "shop", f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}",
                f"127.0.0.1:{free_port()}")  # fmt: skip
    p.root.mkdir()
    p.write_config()
    p.up()
    try:
        yield p
    finally:
        p.teardown()


def load_flags(p: Project, document: dict[str, Any] = DOCUMENT, replace: bool = True) -> None:
    path = p.root / "flags.json"
    path.write_text(json.dumps(document))
    args = ["flags", "import", str(path)] + (["--replace"] if replace else [])
    p.turnout(*args, check=True)


def api_url(p: Project) -> str:
    return f"http://{p.api}"


def token(p: Project) -> str:
    return (p.state_dir / "token").read_text().strip()


def write_file(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path


def call(p: Project, method: str, path: str, headers: dict[str, str] | None = None,
         **kw: Any) -> Any:  # fmt: skip
    """The controller API with the token and extra headers."""
    import httpx

    all_headers = {"Authorization": f"Bearer {token(p)}", **(headers or {})}
    return httpx.request(method, f"{api_url(p)}{path}", headers=all_headers, timeout=30, **kw)


from support.postgres import database, postgres_server  # noqa: E402, F401 - fixtures
