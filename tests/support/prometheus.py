"""A real Prometheus on loopback for tests: scrapes the given targets every second,
keeps its data in a temp dir, and is stopped by PID."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from support.system import free_port, require_program


@dataclass
class Prometheus:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def query(self, promql: str) -> list[dict[str, object]]:
        data = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5).json()
        return list(data["data"]["result"])

    def wait_for(self, promql: str, timeout: float = 20.0) -> list[dict[str, object]]:
        """Poll until ``promql`` has a result (a scrape happened)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = self.query(promql)
            if result:
                return result
            time.sleep(0.25)
        raise TimeoutError(
            f"no result for {promql} after {timeout}s:\n{self.log.read_text()[-2000:]}"
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start_prometheus(
    workdir: Path, targets: list[str], metrics_path: str = "/metrics"
) -> Prometheus:
    binary = require_program("prometheus")
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    listed = ", ".join(f"'{t}'" for t in targets)
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: turnout\n"
        f"    metrics_path: {metrics_path}\n    static_configs:\n      - targets: [{listed}]\n"
    )
    port = free_port()
    log = workdir / "prometheus.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    prom = Prometheus(proc, port, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prometheus exited: {log.read_text()[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{prom.url}/-/ready", timeout=1).status_code == 200:
                return prom
        time.sleep(0.1)
    prom.stop()
    raise TimeoutError(f"prometheus not ready:\n{log.read_text()[-2000:]}")


@pytest.fixture
def prometheus_factory(tmp_path: Path) -> Iterator[Callable[[list[str]], Prometheus]]:
    started: list[Prometheus] = []

    def factory(targets: list[str]) -> Prometheus:
        p = start_prometheus(tmp_path / f"prometheus-{len(started)}", targets)
        started.append(p)
        return p

    yield factory
    for p in started:
        p.stop()
