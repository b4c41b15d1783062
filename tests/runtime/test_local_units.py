"""The local runtime's pure parts, with plain values."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from turnout.errors import UserError
from turnout.runtime import InstanceSpec, ProcessRef
from turnout.runtime.local import command_argv, instance_env, instance_leaders, signal_number
from turnout.runtime.procfs import ProcStat

STATE = "/var/lib/turnout"


def spec(**fields: object) -> InstanceSpec:
    values: dict[str, object] = {
        "id": "shop-1",
        "release": "abc",
        "workdir": Path("/r"),
        "command": "app",
        "port": 9001,
        "log_path": Path("/l.log"),
    }
    values.update(fields)
    return InstanceSpec(**values)  # type: ignore[arg-type]


def test_command_words_are_split_like_a_shell_and_port_is_substituted_in_each():
    argv = command_argv("python app.py --port {port} --bind '127.0.0.1:{port}' x{port}y", 9001)
    assert argv == ["python", "app.py", "--port", "9001", "--bind", "127.0.0.1:9001", "x9001y"]


def test_no_shell_means_shell_syntax_stays_literal():
    assert command_argv("echo $HOME | cat > out", 1) == ["echo", "$HOME", "|", "cat", ">", "out"]


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("python 'app.py", 'command "python \'app.py": No closing quotation; write a command'),
        ("   ", "command is empty; give a command line such as"),
    ],
)
def test_bad_command_lines(command: str, message: str):
    with pytest.raises(UserError) as caught:
        command_argv(command, 1)
    assert str(caught.value).startswith(message)


def test_environment_layers_and_markers_win():
    base = {"PATH": "/bin", "GREETING": "base", "PORT": "1", "TURNOUT_INSTANCE": "stale"}
    env = instance_env(base, spec(env={"GREETING": "spec", "PORT": "2"}), Path(STATE))
    assert env == {
        "PATH": "/bin",
        "GREETING": "spec",
        "PORT": "9001",
        "TURNOUT_INSTANCE": "shop-1",
        "TURNOUT_STATE_DIR": STATE,
    }


@pytest.mark.parametrize("name", ["SIGTERM", "TERM", "sigterm", " SIGTERM "])
def test_signal_names(name: str):
    assert signal_number(name) == signal.SIGTERM


@pytest.mark.parametrize("name", ["SIGNOPE", "15", ""])
def test_unknown_signal_names(name: str):
    with pytest.raises(UserError, match=f"stop signal {name!r} is not a signal; use a name such"):
        signal_number(name)


def proc(pid: int, sid: int, start: int, state: str = "S") -> ProcStat:
    return ProcStat(pid=pid, state=state, ppid=1, pgid=sid, sid=sid, start_ticks=start)


def marks(instance: str, state_dir: str = STATE) -> dict[str, str]:
    return {"TURNOUT_INSTANCE": instance, "TURNOUT_STATE_DIR": state_dir, "PATH": "/bin"}


def test_leaders_are_session_leaders_of_this_state_dir():
    candidates = [
        (proc(10, 10, 500), marks("a")),
        (proc(11, 10, 501), marks("a")),  # a's child: same markers, not a session leader
        (proc(20, 20, 600), marks("b", "/elsewhere")),  # another controller's instance
        (proc(30, 30, 700), {"PATH": "/bin"}),  # not an instance at all
        (proc(40, 40, 800, state="Z"), marks("c")),  # exited, not reaped: not live
        (proc(50, 50, 900), marks("d")),
    ]
    assert instance_leaders(candidates, STATE) == {
        "a": ProcessRef(10, 500),
        "d": ProcessRef(50, 900),
    }


def test_the_oldest_session_leader_wins_when_an_instance_made_another_session():
    candidates = [(proc(12, 12, 520), marks("a")), (proc(10, 10, 500), marks("a"))]
    assert instance_leaders(candidates, STATE) == {"a": ProcessRef(10, 500)}
