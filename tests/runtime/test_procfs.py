"""Parsing /proc, with plain values and with this test process itself."""

from __future__ import annotations

import os
import subprocess
import time

from turnout.runtime.procfs import ProcStat, parse_environ, parse_stat, read_environ, read_stat

# A real stat line of a process whose name holds a space and a parenthesis.
STAT = (
    "4242 (my (app) x) S 1 4240 4239 0 -1 4194560 1200 0 0 0 15 3 0 0 20 0 2 0 "
    "987654 12345678 900 18446744073709551615 1 1 0 0 0 0 0 16781312 2 0 0 0 17 3 0 0 0 0 0"
)


def test_stat_fields_are_counted_from_the_last_parenthesis():
    assert parse_stat(STAT) == ProcStat(
        pid=4242, state="S", ppid=1, pgid=4240, sid=4239, start_ticks=987654
    )


def test_zombies_and_dying_processes_are_dead():
    assert [ProcStat(1, s, 1, 1, 1, 1).dead for s in "RSDTZXx"] == [False] * 4 + [True] * 3


def test_environ_entries():
    data = b"A=1\0B=x=y\0EMPTY=\0junk\0\xff=\xfe\0"
    assert parse_environ(data) == {
        "A": "1",
        "B": "x=y",
        "EMPTY": "",
        os.fsdecode(b"\xff"): os.fsdecode(b"\xfe"),
    }


def test_reading_this_process():
    stat = read_stat(os.getpid())
    assert stat is not None
    assert stat.pid == os.getpid() and stat.pgid == os.getpgrp() and stat.sid == os.getsid(0)
    assert stat.state in "RS"


def test_reading_the_environment_a_process_started_with():
    process = subprocess.Popen(["sleep", "30"], env={"ONLY": "this", "EMPTY": ""})
    try:
        # Right after exec the kernel shows an empty environ until the new stack is set up.
        deadline = time.monotonic() + 5
        while not read_environ(process.pid) and time.monotonic() < deadline:
            time.sleep(0.001)
        assert read_environ(process.pid) == {"ONLY": "this", "EMPTY": ""}
    finally:
        process.kill()
        process.wait()


def test_a_pid_that_does_not_exist_reads_as_none():
    assert read_stat(2**22 + 1) is None  # above Linux's largest pid_max
    assert read_environ(2**22 + 1) is None
