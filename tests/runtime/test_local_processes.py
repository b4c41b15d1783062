"""The local runtime against real processes: the demo app, tiny scripts, and a
starter process that dies while its instance keeps serving."""

from __future__ import annotations

import http.client
import json
import os
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from runtime.helpers import SpecFactory, TrackedRuntime
from turnout.errors import UserError
from turnout.runtime import InstanceSpec, ProcessRef
from turnout.runtime.local import LocalRuntime
from turnout.runtime.procfs import read_environ, read_stat

PYTHON = shlex.quote(sys.executable)
DEMO = f"{PYTHON} -m turnout.demo.app --release v1 --drain-ms 100"


def wait_for(condition: Callable[[], object], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def get(port: int, path: str = "/") -> tuple[int, str, str]:
    """(status, X-Release, body) of one GET on loopback."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.getheader("X-Release", ""), response.read().decode()
    finally:
        connection.close()


def healthy(port: int) -> bool:
    try:
        return get(port, "/healthz")[0] == 200
    except OSError:
        return False


def wait_healthy(runtime: LocalRuntime, ref: ProcessRef, spec: InstanceSpec) -> None:
    def ready() -> bool:
        state = runtime.state(ref)
        if state[0] != "running":
            raise AssertionError(f"instance {state}: {spec.log_path.read_text()}")
        return healthy(spec.port)

    wait_for(ready, f"{spec.id} healthy on port {spec.port}")


def write_script(folder: Path, name: str, body: str) -> str:
    (folder / name).write_text(textwrap.dedent(body))
    return f"{PYTHON} {name}"


def is_dead(pid: int) -> bool:
    stat = read_stat(pid)
    return stat is None or stat.dead


# --- starting -----------------------------------------------------------------------------


def test_started_instance_serves_and_is_running(runtime: TrackedRuntime, make_spec: SpecFactory):
    spec = make_spec(f"{DEMO} --port {{port}}")
    ref = runtime.start(spec)
    wait_healthy(runtime, ref, spec)

    assert runtime.state(ref) == ("running", None)
    assert get(spec.port)[:2] == (200, "v1")
    stat = read_stat(ref.pid)
    assert stat is not None and stat.start_ticks == ref.start_ticks
    assert stat.sid == stat.pgid == ref.pid  # leads its own session and group
    assert os.readlink(f"/proc/{ref.pid}/fd/0") == "/dev/null"
    assert os.readlink(f"/proc/{ref.pid}/fd/1") == str(spec.log_path)
    assert os.readlink(f"/proc/{ref.pid}/fd/2") == str(spec.log_path)
    wait_for(lambda: "listening on" in spec.log_path.read_text(), "the listening line in the log")


def test_the_app_can_take_its_port_from_PORT(runtime: TrackedRuntime, make_spec: SpecFactory):
    spec = make_spec(DEMO)  # no --port: the demo app reads $PORT
    ref = runtime.start(spec)
    wait_healthy(runtime, ref, spec)
    assert get(spec.port)[0] == 200


def test_environment_port_placeholder_and_markers(
    runtime: TrackedRuntime, make_spec: SpecFactory, workdir: Path, state_dir: Path
):
    command = write_script(
        workdir,
        "env.py",
        """
        import os, sys
        names = ["PORT", "GREETING", "TURNOUT_INSTANCE", "TURNOUT_STATE_DIR"]
        print(sys.argv[1:], [os.environ[n] for n in names], os.getcwd(), flush=True)
        """,
    )
    spec = make_spec(f"{command} --port={{port}} '{{port}} two'", env={"GREETING": "hi there"})
    ref = runtime.start(spec)
    wait_for(lambda: runtime.state(ref)[0] == "exited", "the script to exit")

    assert runtime.state(ref) == ("exited", 0)
    port = str(spec.port)
    expected = [[f"--port={port}", f"{port} two"], [port, "hi there", spec.id, str(state_dir)]]
    assert spec.log_path.read_text() == f"{expected[0]} {expected[1]} {workdir}\n"


def test_the_log_is_appended_not_truncated(runtime: TrackedRuntime, make_spec: SpecFactory):
    spec = make_spec(f'{PYTHON} -c \'import sys; print("out"); print("err", file=sys.stderr)\'')
    for _ in range(2):
        ref = runtime.start(spec)
        wait_for(lambda ref=ref: runtime.state(ref)[0] == "exited", "the script to exit")
    assert sorted(spec.log_path.read_text().split()) == ["err", "err", "out", "out"]


def test_exit_code_of_a_crashed_instance(runtime: TrackedRuntime, make_spec: SpecFactory):
    ref = runtime.start(make_spec(f"{DEMO} --port {{port}} --crash-at-start"))
    wait_for(lambda: runtime.state(ref)[0] == "exited", "the crash")
    assert runtime.state(ref) == ("exited", 1)
    assert runtime.stop(ref, "SIGTERM", 1) == 1  # stopping an exited instance is fine


# --- errors -------------------------------------------------------------------------------


def test_a_missing_program_is_a_user_error(runtime: TrackedRuntime, make_spec: SpecFactory):
    with pytest.raises(UserError, match=r"cannot run 'no-such-program-x' \(No such file"):
        runtime.start(make_spec("no-such-program-x --port {port}"))


def test_a_missing_workdir_is_a_user_error(
    runtime: TrackedRuntime, make_spec: SpecFactory, tmp_path: Path
):
    missing = tmp_path / "nowhere"
    with pytest.raises(UserError, match=f"workdir {missing} is not an existing folder"):
        runtime.start(make_spec(DEMO, workdir=missing))


def test_an_unknown_stop_signal_is_refused_at_start(
    runtime: TrackedRuntime, make_spec: SpecFactory
):
    with pytest.raises(UserError, match="stop signal 'SIGSTOPPP' is not a signal"):
        runtime.start(make_spec(DEMO, stop_signal="SIGSTOPPP"))


# --- stopping -----------------------------------------------------------------------------


def test_graceful_stop_drains_and_returns_0(runtime: TrackedRuntime, make_spec: SpecFactory):
    spec = make_spec(f"{DEMO} --port {{port}}")
    ref = runtime.start(spec)
    wait_healthy(runtime, ref, spec)

    assert runtime.stop(ref, "SIGTERM", 5) == 0
    assert runtime.state(ref) == ("gone", None)  # stop reaped it
    assert not healthy(spec.port)
    assert runtime.stop(ref, "SIGTERM", 5) is None  # again: nothing to do


def test_stop_escalates_to_sigkill(runtime: TrackedRuntime, make_spec: SpecFactory, workdir: Path):
    command = write_script(
        workdir,
        "stubborn.py",
        """
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ready", flush=True)
        time.sleep(300)
        """,
    )
    spec = make_spec(command)
    ref = runtime.start(spec)
    wait_for(lambda: "ready" in spec.log_path.read_text(), "the SIGTERM trap")

    started = time.monotonic()
    assert runtime.stop(ref, "SIGTERM", 0.3) == -signal.SIGKILL
    assert 0.3 <= time.monotonic() - started < 3


def test_children_in_the_group_are_stopped_too(
    runtime: TrackedRuntime, make_spec: SpecFactory, workdir: Path
):
    # Signalled alone, the leader would die and leave its child running.
    command = write_script(
        workdir,
        "parent.py",
        """
        import subprocess, time
        child = subprocess.Popen(["sleep", "300"])
        print(child.pid, flush=True)
        time.sleep(300)
        """,
    )
    spec = make_spec(command)
    ref = runtime.start(spec)
    wait_for(lambda: spec.log_path.read_text().strip(), "the child's pid")
    child = int(spec.log_path.read_text())
    assert not is_dead(child)

    assert runtime.stop(ref, "SIGTERM", 5) == -signal.SIGTERM
    assert is_dead(child)


def test_a_child_left_behind_by_its_leader_is_stopped(
    runtime: TrackedRuntime, make_spec: SpecFactory, workdir: Path
):
    spec = make_spec("sh -c 'sleep 300 & echo $!'")
    ref = runtime.start(spec)
    wait_for(lambda: runtime.state(ref)[0] == "exited", "the leader to exit")  # and be reaped
    child = int(spec.log_path.read_text())
    assert not is_dead(child)

    assert runtime.stop(ref, "SIGTERM", 5) == 0  # the leader's code, collected earlier
    assert is_dead(child)


def test_a_reused_pid_is_gone_and_never_signalled(runtime: TrackedRuntime, make_spec: SpecFactory):
    ref = runtime.start(make_spec(f"{PYTHON} -c 'import time; time.sleep(300)'"))
    impostor = ProcessRef(ref.pid, ref.start_ticks + 1)  # same pid, another start time

    assert runtime.state(impostor) == ("gone", None)
    assert runtime.stop(impostor, "SIGKILL", 0) is None
    assert runtime.state(ref) == ("running", None)


def test_an_orphaned_group_without_our_marker_is_never_signalled(
    runtime: TrackedRuntime, make_spec: SpecFactory, tmp_path: Path, cleanup: list[ProcessRef]
):
    other_runtime = TrackedRuntime(tmp_path / "other-state", cleanup)
    spec = make_spec("sh -c 'sleep 300 & echo $!'")
    ref = other_runtime.start(spec)
    wait_for(lambda: other_runtime.state(ref)[0] == "exited", "the leader to exit")
    child = int(spec.log_path.read_text())

    # The leader is reaped, so its pid no longer vouches for the group: only the
    # state-dir marker does, and this runtime's marker is another one.
    assert runtime.stop(ref, "SIGKILL", 0) is None
    assert not is_dead(child)
    assert other_runtime.stop(ref, "SIGKILL", 5) == 0
    assert is_dead(child)


# --- surviving the controller and re-adoption ---------------------------------------------

STARTER = """
import json, os, sys
from pathlib import Path
from turnout.runtime import InstanceSpec
from turnout.runtime.local import LocalRuntime

state_dir, workdir, command, port, log = sys.argv[1:]
runtime = LocalRuntime(Path(state_dir))
spec = InstanceSpec("shop-adopted", "0123456789ab", Path(workdir), command, int(port), Path(log))
ref = runtime.start(spec)
print(json.dumps([ref.pid, ref.start_ticks]), flush=True)
os._exit(0)  # die like a killed controller: no cleanup, no waiting
"""


def test_an_instance_outlives_its_starter_and_is_readopted(
    make_spec: SpecFactory, state_dir: Path, workdir: Path, cleanup: list[ProcessRef]
):
    spec = make_spec(f"{DEMO} --port {{port}}")
    args = [str(state_dir), str(workdir), spec.command, str(spec.port), str(spec.log_path)]
    starter = subprocess.run(  # stdin is a pipe here; the instance must not inherit it
        [sys.executable, "-c", STARTER, *args], input="", capture_output=True, text=True, timeout=20
    )
    assert starter.returncode == 0, starter.stderr
    ref = ProcessRef(*json.loads(starter.stdout))
    cleanup.append(ref)

    wait_for(lambda: healthy(spec.port), "the orphaned instance to serve")
    stat = read_stat(ref.pid)
    assert stat is not None and stat.start_ticks == ref.start_ticks
    assert read_environ(ref.pid)["TURNOUT_STATE_DIR"] == str(state_dir)  # type: ignore[index]
    assert os.readlink(f"/proc/{ref.pid}/fd/0") == "/dev/null"

    controller = LocalRuntime(state_dir)  # a restarted controller
    assert controller.find(state_dir) == {"shop-adopted": ref}
    assert controller.state(ref) == ("running", None)
    assert get(spec.port)[:2] == (200, "v1")

    assert controller.stop(ref, "SIGTERM", 5) is None  # not our child: no exit code
    assert controller.state(ref)[0] in ("gone", "exited")  # init may not have reaped it yet
    assert not healthy(spec.port)
    assert controller.find(state_dir) == {}


def test_find_sees_only_its_state_dir_and_only_leaders(
    runtime: TrackedRuntime,
    make_spec: SpecFactory,
    workdir: Path,
    tmp_path: Path,
    cleanup: list[ProcessRef],
):
    command = write_script(
        workdir,
        "family.py",
        """
        import subprocess, time
        subprocess.Popen(["sleep", "300"])
        print("ready", flush=True)
        time.sleep(300)
        """,
    )
    ours = make_spec(command)
    other_dir = tmp_path / "other-state"
    other_runtime = TrackedRuntime(other_dir, cleanup)
    theirs = make_spec(command)

    mine = runtime.start(ours)
    other = other_runtime.start(theirs)
    for spec in (ours, theirs):
        wait_for(lambda spec=spec: "ready" in spec.log_path.read_text(), f"{spec.id} ready")

    assert runtime.find(runtime.state_dir) == {ours.id: mine}  # its child carries the markers too
    assert runtime.find(other_dir) == {theirs.id: other}
    assert other_runtime.stop(other, "SIGTERM", 5) == -signal.SIGTERM
    assert runtime.find(other_dir) == {}
