"""The flag service in a real controller: OFREP, the stream, management, auth, the CLI."""

from __future__ import annotations

import json

import httpx
import pytest

from flags.conftest import BOOL_FLAG, DOCUMENT, api_url, call, load_flags, write_file
from support.project import Project

pytestmark = pytest.mark.slow


def test_ofrep_single_evaluation(running: Project) -> None:
    load_flags(running)
    url = api_url(running)
    r = httpx.post(f"{url}/ofrep/v1/evaluate/flags/banner", json={"context": {}})
    assert r.status_code == 200
    assert r.json() == {"key": "banner", "reason": "STATIC", "metadata": {}, "value": "Hello",
                        "variant": "a"}  # fmt: skip
    r = httpx.post(f"{url}/ofrep/v1/evaluate/flags/new-checkout",
                   json={"context": {"targetingKey": "user-1", "country": "DE"}})  # fmt: skip
    assert (r.json()["value"], r.json()["reason"]) == (False, "TARGETING_MATCH")
    reasons = {
        httpx.post(f"{url}/ofrep/v1/evaluate/flags/new-checkout",
                   json={"context": {"targetingKey": f"user-{i}", "country": "US"}}).json()["reason"]
        for i in range(10)
    }  # fmt: skip
    assert reasons == {"SPLIT"}


def test_ofrep_errors(running: Project) -> None:
    load_flags(running)
    url = api_url(running)
    r = httpx.post(f"{url}/ofrep/v1/evaluate/flags/nope", json={})
    assert r.status_code == 404
    assert r.json() == {
        "key": "nope",
        "errorCode": "FLAG_NOT_FOUND",
        "errorDetails": "no flag 'nope'",
    }
    r = httpx.post(f"{url}/ofrep/v1/evaluate/flags/banner", json={"context": [1]})
    assert (r.status_code, r.json()["errorCode"]) == (400, "INVALID_CONTEXT")
    r = httpx.post(f"{url}/ofrep/v1/evaluate/flags/banner", content=b"{not json")
    assert (r.status_code, r.json()["errorCode"]) == (400, "PARSE_ERROR")


def test_ofrep_bulk_with_etag(running: Project) -> None:
    load_flags(running)
    url = api_url(running)
    body = {"context": {"targetingKey": "user-1", "country": "US"}}
    r = httpx.post(f"{url}/ofrep/v1/evaluate/flags", json=body)
    assert r.status_code == 200
    assert [f["key"] for f in r.json()["flags"]] == ["banner", "beta", "new-checkout"]
    etag = r.headers["etag"]
    again = httpx.post(f"{url}/ofrep/v1/evaluate/flags", json=body, headers={"If-None-Match": etag})
    assert again.status_code == 304
    running.turnout("flags", "disable", "beta", check=True)
    after = httpx.post(f"{url}/ofrep/v1/evaluate/flags", json=body, headers={"If-None-Match": etag})
    assert after.status_code == 200
    beta = next(f for f in after.json()["flags"] if f["key"] == "beta")
    assert beta == {"key": "beta", "reason": "DISABLED", "metadata": {}}  # no value: code default


def test_writes_need_the_token_and_reads_do_not(running: Project) -> None:
    load_flags(running)
    url = api_url(running)
    r = httpx.post(f"{url}/v1/flags/beta/state", json={"state": "DISABLED"})
    assert r.status_code == 401
    r = httpx.put(f"{url}/v1/flags/x", json={"definition": BOOL_FLAG})
    assert r.status_code == 401
    assert httpx.get(f"{url}/v1/flags").status_code == 200
    assert httpx.post(f"{url}/ofrep/v1/evaluate/flags", json={}).status_code == 200


def test_stream_sends_a_snapshot_then_versioned_changes(running: Project) -> None:
    load_flags(running)
    url = api_url(running)
    events: list[tuple[str, dict]] = []
    with httpx.stream("GET", f"{url}/v1/flagset/stream", timeout=10) as response:
        assert response.headers["content-type"] == "text/event-stream"
        lines = response.iter_lines()
        event = ""
        for line in lines:
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                events.append((event, json.loads(line[5:])))
                if event == "snapshot":
                    running.turnout("flags", "disable", "new-checkout", check=True)
                else:
                    break
    (kind, snap), (kind2, change) = events
    assert kind == "snapshot" and sorted(snap["document"]["flags"]) == sorted(DOCUMENT["flags"])
    assert kind2 == "change"
    assert change["base"] == snap["version"] and change["version"] == snap["version"] + 1
    assert change["flags"]["new-checkout"]["state"] == "DISABLED"


def test_bad_definition_is_refused_and_live_flags_untouched(running: Project) -> None:
    load_flags(running)
    before = running.turnout("flags", "export", check=True).stdout
    bad = dict(BOOL_FLAG, targeting={"if": [{"startswith": [{"var": "email"}, "a"]}, "on", "off"]})
    path = write_file(running.root / "bad.json", bad)
    out = running.turnout("flags", "set", "new-checkout", "--file", str(path))
    assert out.returncode == 2
    assert out.stderr.strip() == (
        f"error: {path}: flags.new-checkout.targeting.if[0]: unknown operator 'startswith'; "
        "did you mean 'starts_with'?"
    )
    # the same through the API: the service checks too, and names the path
    r = running.api_call("PUT", "/v1/flags/new-checkout", json={"definition": bad})
    assert r.status_code == 400
    assert r.json()["error"].startswith("request: flags.new-checkout.targeting.if[0]: unknown")
    assert running.turnout("flags", "export", check=True).stdout == before


def test_history_shows_who_what_and_the_diff(running: Project) -> None:
    load_flags(running)
    running.turnout("flags", "rollout", "new-checkout", "20", check=True)
    running.turnout("flags", "disable", "new-checkout", check=True)
    out = running.turnout("flags", "history", "new-checkout", check=True).stdout.splitlines()
    assert out[0].endswith("disable") and out[1] == '    ~ state: "ENABLED" -> "DISABLED"'
    assert out[2].endswith("rollout")
    assert out[3:5] == [
        "    ~ targeting.if[1].fractional[0][1]: 50 -> 20",
        "    ~ targeting.if[1].fractional[1][1]: 50 -> 80",
    ]
    data = json.loads(
        running.turnout("flags", "history", "new-checkout", "--json", check=True).stdout
    )
    assert data["history"][0]["user"] and data["history"][0]["before"]["state"] == "ENABLED"


def test_optimistic_concurrency_on_a_flag(running: Project) -> None:
    load_flags(running)
    got = running.api_call("GET", "/v1/flags/banner")
    etag = got.headers["etag"]
    changed = dict(DOCUMENT["flags"]["banner"], defaultVariant="b")
    ok = call(running, "PUT", "/v1/flags/banner", {"If-Match": etag}, json={"definition": changed})
    assert ok.status_code == 200
    stale = call(running, "PUT", "/v1/flags/banner", {"If-Match": etag},
                 json={"definition": changed})  # fmt: skip
    assert stale.status_code == 409
    assert "is at version" in stale.json()["error"]
    out = running.turnout(
        "flags", "set", "banner", "--json", json.dumps(changed), "--if-version", "1"
    )
    assert out.returncode == 2 and "is at version" in out.stderr


def test_cli_list_show_rollout_export(running: Project) -> None:
    load_flags(running)
    out = running.turnout("flags", "rollout", "new-checkout", "12.5", check=True).stdout
    assert out.startswith("new-checkout: rollout 12.5% (flag version")
    listed = json.loads(running.turnout("flags", "list", "--json", check=True).stdout)
    row = next(f for f in listed["flags"] if f["key"] == "new-checkout")
    assert row["split"] == "on 12.5% / off 87.5%"
    shown = json.loads(
        running.turnout("flags", "show", "new-checkout", "--json", check=True).stdout
    )
    assert shown["definition"]["targeting"]["if"][1]["fractional"] == [
        ["on", 12500],
        ["off", 87500],
    ]
    out = running.turnout("flags", "rollout", "banner", "30")
    assert out.returncode == 2
    assert (
        "is a string flag; name the variant that gets the percentage with --variant" in out.stderr
    )
    out = running.turnout("flags", "show", "missing")
    assert out.returncode == 2 and "no flag 'missing'" in out.stderr
    exported = json.loads(running.turnout("flags", "export", check=True).stdout)
    assert sorted(exported["flags"]) == ["banner", "beta", "new-checkout"]


def test_read_token_protects_reads(project: Project) -> None:
    project.write_config(extra='\n[flags]\nread_token = "reader-secret"\n')
    project.up()
    load_flags(project)
    url = api_url(project)
    assert httpx.post(f"{url}/ofrep/v1/evaluate/flags/banner", json={}).status_code == 401
    assert httpx.get(f"{url}/v1/flags").status_code == 401
    reader = {"Authorization": "Bearer reader-secret"}
    r = httpx.post(f"{url}/ofrep/v1/evaluate/flags/banner", json={}, headers=reader)
    assert r.json()["value"] == "Hello"
    assert (
        httpx.post(
            f"{url}/v1/flags/banner/state", json={"state": "DISABLED"}, headers=reader
        ).status_code
        == 401
    )  # reading is not writing
    from turnout.flags import Flags

    with Flags.connect(url, token="reader-secret") as flags:
        assert flags.evaluate("banner", "x").value == "Hello"
    assert project.turnout("flags", "list", check=True).returncode == 0  # the CLI's token reads too
