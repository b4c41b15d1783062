"""The config contract and the CLI's answers to bad input: one line, the right exit
code, nothing changed."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from turnout.core.config import locate, parse_config
from turnout.errors import UserError

VALID = """
[app]
name = "shop"
command = "python app.py --port {port}"
"""


def test_defaults_match_the_documented_contract():
    cfg = parse_config(VALID)
    assert cfg.state_dir == ".turnout"
    assert cfg.app.instances == 2
    assert (cfg.health.path, cfg.health.interval, cfg.health.timeout) == ("/healthz", 1.0, 1.0)
    assert (cfg.health.rise, cfg.health.fall) == (2, 2)
    assert cfg.router.listen == ["127.0.0.1:8000"] and cfg.router.admin == "127.0.0.1:8001"
    d = cfg.deploy
    assert (d.strategy, d.timeout, d.drain_timeout, d.keep_warm) == ("bluegreen", 60.0, 30.0, 300.0)
    assert (d.rolling.batch_size, d.rolling.max_surge, d.rolling.max_unavailable) == (1, 1, 0)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            VALID + '[deploy]\ntimeout = "3q"\n',
            "turnout.toml:6: deploy.timeout: '3q' is not a duration",
        ),
        (
            VALID + '[deploy]\nstrategy = "blue"\n',
            "turnout.toml:6: deploy.strategy: 'blue' is not valid",
        ),
        ('[app]\nname = "x"\n', "turnout.toml:1: app.command: required key is missing"),
        (
            VALID + "colour = 1\n",
            "turnout.toml:5: app.colour: unknown key; valid keys here: name, command",
        ),
        (
            VALID + "[health]\nrise = 0\n",
            "turnout.toml:6: health.rise: Input should be greater than or equal to 1",
        ),
        ("[app\n", "turnout.toml:1: not valid TOML"),
        (
            VALID + "[deploy.rolling]\nmax_surge = 0\nmax_unavailable = 0\n",
            "deploy.rolling: max_surge and max_unavailable cannot both be 0",
        ),
        (VALID.replace("{port}", "{prot}"), "app.command: unknown placeholder {prot}"),
        (
            VALID + '[router]\nlisten = ["127.0.0.1:8002"]\n',
            "controller.api and router.listen are both 127.0.0.1:8002",
        ),
    ],
)
def test_invalid_config_names_file_line_key_and_what_is_valid(text, error):
    with pytest.raises(UserError) as info:
        parse_config(text, "turnout.toml")
    assert str(info.value).startswith(error) or error in str(info.value)
    assert "\n" not in str(info.value)


def test_locate_finds_keys_in_tables_and_dotted_tables():
    text = "a = 1\n[deploy]\ntimeout = 2\n[deploy.rolling]\nbatch_size = 3\n"
    assert locate(text, ("a",)) == 1
    assert locate(text, ("deploy", "timeout")) == 3
    assert locate(text, ("deploy", "rolling", "batch_size")) == 5
    assert locate(text, ("deploy", "rolling", "max_surge")) == 4  # the enclosing table
    assert locate(text, ("nothing",)) is None


def run(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "turnout", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


def test_init_writes_a_valid_commented_config_and_refuses_to_overwrite(tmp_path):
    (tmp_path / "app.py").write_text("print('hi')\n")
    out = run("init", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    text = (tmp_path / "turnout.toml").read_text()
    assert 'command = "python app.py --port {port}"' in text
    assert text.count("#") > 10
    parse_config(text)
    again = run("init", cwd=tmp_path)
    assert again.returncode == 2
    assert again.stderr.strip() == "error: turnout.toml exists already; use --force to overwrite it"


def test_commands_without_a_config_say_how_to_get_one(tmp_path):
    out = run("status", cwd=tmp_path)
    assert out.returncode == 2
    assert "turnout.toml: no such file; run 'turnout init'" in out.stderr
    assert "Traceback" not in out.stderr


def test_invalid_config_is_reported_by_every_command_before_anything_runs(project):
    project.config.write_text(
        project.config.read_text().replace('timeout = "20s"', 'timeout = "soon"')
    )
    for cmd in (["up"], ["deploy", "."], ["status"]):
        out = project.turnout(*cmd)
        assert out.returncode == 2, cmd
        assert "deploy.timeout: 'soon' is not a duration" in out.stderr
        assert out.stderr.count("\n") == 1
    assert not (project.state_dir / "run").exists()


def test_status_says_the_controller_is_not_running(project):
    out = project.turnout("status")
    assert out.returncode == 1
    assert "the controller is not running" in out.stderr and "turnout up" in out.stderr


def test_up_refuses_a_port_in_use(project):
    host, port = project.listen.split(":")
    with socket.socket() as s:
        s.bind((host, int(port)))
        s.listen()
        out = project.turnout("up")
    assert out.returncode == 1
    assert f"router.listen {project.listen} is in use by another program" in out.stderr


def test_up_status_down_with_nothing_deployed(project):
    project.up()
    again = project.turnout("up", check=True)
    assert "already running" in again.stdout
    status = project.status()
    assert status["good"] is None and status["instances"] == [] and status["traffic"]["router"]
    out = project.turnout("down", check=True)
    assert "controller stopped" in out.stdout and "router stopped" in out.stdout


def test_bad_deploy_input_changes_nothing(project):
    project.up()
    missing = project.turnout("deploy", str(project.root / "nope"))
    assert missing.returncode == 2 and "nope" in missing.stderr
    unknown = project.turnout("rollback", "r99")
    assert unknown.returncode == 2
    assert (
        unknown.stderr.strip() == "error: nothing is deployed yet, so there is nothing to roll back"
    )
    bad_strategy = project.turnout("deploy", str(project.release("v1")), "--strategy", "yolo")
    assert bad_strategy.returncode == 2 and "unknown strategy 'yolo'" in bad_strategy.stderr
    text = project.config.read_text()
    start = text.index("command = ")
    end = text.index("\n", start)
    project.config.write_text(
        text[:start] + 'command = "no-such-program --port {port}"' + text[end:]
    )
    no_program = project.turnout("deploy", str(project.release("v1")))
    assert no_program.returncode == 2
    assert no_program.stderr.strip() == "error: app.command: 'no-such-program' is not on PATH"
    assert project.history() == []
    assert project.status()["instances"] == []


def test_migrations_table_is_part_of_the_config_and_checked():
    cfg = parse_config(VALID + "[migrations]\npostgres_version = 15\n")
    assert cfg.migrations == {"postgres_version": 15}
    with pytest.raises(UserError) as info:
        parse_config(VALID + "[migrations]\npostgres_versoin = 15\n")
    assert "did you mean 'postgres_version'" in str(info.value)
