"""The example release folders: self-contained, distinct, and each its own release."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from support.apps import EXAMPLES, DemoProcess

RELEASES = ["v1", "v2", "v3-bad"]


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(
        p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    ):
        h.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def test_folders_differ_but_share_the_app() -> None:
    assert len({_digest(EXAMPLES / r) for r in RELEASES}) == 3
    assert len({(EXAMPLES / r / "app.py").read_text() for r in RELEASES}) == 1


@pytest.mark.parametrize("release", RELEASES)
def test_release_folder_serves_its_release(
    demo_factory: Callable[..., DemoProcess], release: str
) -> None:
    demo = demo_factory(release=None, script=EXAMPLES / release / "app.py")
    response = httpx.get(demo.url + "/healthz", trust_env=False)
    assert response.headers["x-release"] == release


def test_v3_bad_fails_some_requests(demo_factory: Callable[..., DemoProcess]) -> None:
    flags = ("--seed", "5", "--latency-ms", "0")  # the file's 150 ms would make this slow
    demo = demo_factory(*flags, release=None, script=EXAMPLES / "v3-bad" / "app.py")
    with httpx.Client(base_url=demo.url, trust_env=False) as client:
        statuses = [client.get("/").status_code for _ in range(200)]
    assert 2 <= statuses.count(500) <= 25  # 5% of 200, with room for chance
    assert statuses.count(200) + statuses.count(500) == 200
