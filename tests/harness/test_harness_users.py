"""Simulated users with cookie jars and the cohort header (LoadSpec.users, cohort_header):
what the release-level A/B of docs/experiments.md drives through the router."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from pydantic import ValidationError

from turnout.harness import LoadRunner, LoadSpec, Mix

from .misbehaving import read_head, response, serve

_ids = itertools.count()


async def sticky_app(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Like the router with sticky + cohort_header: a new client gets a cookie; the cohort
    is a function of the cookie; the body names the release, as the demo app does."""
    while True:
        head = (await read_head(reader)).decode("latin-1").lower()
        cookie = next((line.split(":", 1)[1].strip() for line in head.split("\r\n")
                       if line.startswith("cookie:")), "")  # fmt: skip
        sid = dict(p.split("=", 1) for p in cookie.split("; ") if "=" in p).get("sid")
        extra = []
        if sid is None:
            sid = str(next(_ids))
            extra.append(f"Set-Cookie: sid={sid}; Path=/; HttpOnly")
        cohort = "a" if int(sid) % 2 else "b"
        writer.write(response("200 OK", b"shop v1\n", "X-Release: v1", f"X-Cohort: {cohort}",
                              f"X-Seen-Cookie: {int(bool(cookie))}", *extra))  # fmt: skip
        await writer.drain()


def test_each_user_keeps_its_cookie_and_outcomes_carry_user_and_cohort() -> None:
    with serve(sticky_app) as port:
        spec = LoadSpec(port=port, max_requests=600, mix=Mix(keepalive=3, newconn=1), users=50,
                        requests_per_user=3, cohort_header="X-Cohort")  # fmt: skip
        report = LoadRunner(spec).start().wait()
    assert report.failed == 0 and report.sent == 600
    by_user: dict[int, set[str | None]] = {}
    for o in report.outcomes:
        assert o.user is not None and 0 <= o.user < 50
        by_user.setdefault(o.user, set()).add(o.cohort)
    assert len(by_user) == 50
    assert all(len(cohorts) == 1 for cohorts in by_user.values())  # sticky through the jar
    assert {c for cs in by_user.values() for c in cs} == {"a", "b"}
    assert report.to_dict(outcomes=True)["outcomes"][0].keys() >= {"user", "cohort"}


def test_without_users_nothing_changes() -> None:
    with serve(sticky_app) as port:
        report = (
            LoadRunner(LoadSpec(port=port, max_requests=50, mix=Mix(keepalive=2))).start().wait()
        )
    assert report.ok == 50
    assert all(o.user is None and o.cohort is None for o in report.outcomes)
    assert "user" not in report.to_dict(outcomes=True)["outcomes"][0]


def test_users_must_cover_the_clients() -> None:
    with pytest.raises(
        ValidationError, match=r"users \(2\) must be at least the GET clients \(3\)"
    ):
        LoadSpec(port=1, mix=Mix(keepalive=3), users=2)
    with pytest.raises(ValidationError, match="not a header name"):
        LoadSpec(port=1, mix=Mix(keepalive=1), cohort_header="x cohort")
