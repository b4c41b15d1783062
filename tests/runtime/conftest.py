"""A local runtime per test, and the specs its tests start.

Every instance a test starts (or adopts through ``cleanup``) is killed by its
process group at teardown: SIGKILL, after checking the ref still names that
process, so a reused pid is never hit. Then every process whose
``TURNOUT_STATE_DIR`` lies in the test's tmp folder is killed by pid, so even a
broken runtime (no session of its own) leaves nothing running.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.helpers import SpecFactory, TrackedRuntime, kill_group, kill_marked
from support.system import free_port
from turnout.runtime import InstanceSpec, ProcessRef


@pytest.fixture
def cleanup(tmp_path: Path) -> Iterator[list[ProcessRef]]:
    """Refs to kill at teardown (tests add the instances they adopt); then every process
    carrying a state dir of this test is killed by pid, whatever went wrong."""
    refs: list[ProcessRef] = []
    yield refs
    for ref in refs:
        kill_group(ref)
    kill_marked(tmp_path)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    path = tmp_path / "state"
    path.mkdir()
    return path


@pytest.fixture
def runtime(state_dir: Path, cleanup: list[ProcessRef]) -> Iterator[TrackedRuntime]:
    rt = TrackedRuntime(state_dir, cleanup)
    yield rt
    for ref in cleanup:
        kill_group(ref)
    kill_marked(state_dir.parent)
    for ref in cleanup:
        deadline = time.monotonic() + 5
        while rt.state(ref)[0] == "running" and time.monotonic() < deadline:
            time.sleep(0.01)  # reaps our children


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "release"
    path.mkdir()
    return path


@pytest.fixture
def make_spec(tmp_path: Path, workdir: Path) -> SpecFactory:
    """``make_spec(command, **fields)``: an InstanceSpec on a free port, logging to tmp."""
    numbers = itertools.count(1)

    def factory(command: str, **fields: object) -> InstanceSpec:
        instance = f"shop-test-{next(numbers)}"
        values: dict[str, object] = {
            "id": instance,
            "release": "0123456789ab",
            "workdir": workdir,
            "command": command,
            "port": free_port(),
            "log_path": tmp_path / "logs" / f"{instance}.log",
        }
        values.update(fields)
        return InstanceSpec(**values)  # type: ignore[arg-type]

    return factory
