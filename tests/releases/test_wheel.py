"""A wheel as a release: pip-installed into site/, importable through Ingested.env."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from releases.helpers import build_wheel
from turnout.errors import UserError
from turnout.releases.artifacts import ingest
from turnout.releases.digest import digest_tree
from turnout.releases.wheel import record_without


def test_a_wheel_is_installed_and_importable(tmp_path: Path):
    wheel = build_wheel(tmp_path / "dist")
    got = ingest(str(wheel), tmp_path / "releases", cwd=tmp_path)

    assert (got.kind, got.env) == ("wheel", {"PYTHONPATH": str(got.path / "site")})
    assert digest_tree(got.path) == got.digest
    info = got.path / "site" / "tiny-1.0.dist-info"
    assert not (info / "direct_url.json").exists()
    assert "direct_url.json" not in (info / "RECORD").read_text()
    assert not list(got.path.rglob("*.pyc"))  # --no-compile: the folder is what the digest covers
    run = subprocess.run(
        [sys.executable, "-c", "import tiny; print(tiny.VALUE, tiny.__file__)"],
        env={"PATH": "/usr/bin:/bin", **got.env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert run.stdout == f"42 {got.path / 'site' / 'tiny' / '__init__.py'}\n"


def test_the_same_wheel_from_another_place_is_the_same_release(tmp_path: Path):
    wheel = build_wheel(tmp_path / "a")
    moved = tmp_path / "b" / wheel.name
    moved.parent.mkdir()
    shutil.copyfile(wheel, moved)
    first = ingest(str(wheel), tmp_path / "releases", cwd=tmp_path)
    second = ingest(str(moved), tmp_path / "releases", cwd=tmp_path)
    assert second.digest == first.digest


def test_a_file_that_is_no_zip_is_refused(tmp_path: Path):
    (tmp_path / "app-1.0-py3-none-any.whl").write_text("not a zip")
    with pytest.raises(UserError) as caught:
        ingest("app-1.0-py3-none-any.whl", tmp_path / "releases", cwd=tmp_path)
    assert str(caught.value) == (
        "release source 'app-1.0-py3-none-any.whl' is not a wheel (not a zip archive); "
        "give a .whl built by pip wheel or python -m build"
    )


def test_a_wheel_pip_refuses_is_a_user_error(tmp_path: Path):
    wheel = build_wheel(tmp_path / "dist")
    badly_named = wheel.rename(tmp_path / "tiny.whl")
    with pytest.raises(
        UserError,
        match=r"^release source 'tiny.whl': pip could not install the wheel \(.+\); give a wheel for Python 3\.\d+",
    ):
        ingest(badly_named.name, tmp_path / "releases", cwd=tmp_path)
    assert list((tmp_path / "releases").iterdir()) == []


def test_record_without_drops_exactly_one_entry():
    record = "a/x.py,sha256=1,3\na/direct_url.json,sha256=2,9\na/direct_url.json.bak,,\n"
    assert (
        record_without(record, "a/direct_url.json")
        == "a/x.py,sha256=1,3\na/direct_url.json.bak,,\n"
    )
