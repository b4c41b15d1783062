"""What a browser's analytics beacon would send, from a load run: exposures and conversions.

A release-level experiment needs no app change: the router labels every response with
the cohort (``cohort_header``) and the client reports what it saw. For a load run of
``turnout.harness`` with simulated users (``LoadSpec.users``, ``cohort_header``) this
turns the outcomes into that report:

- one **exposure** per user: the cohort of its first successful response (unit
  ``<prefix><user>``);
- one ``conversion`` **event** per response carrying ``X-Converted: 1`` (the demo app's
  conversion), with an id made of the run and the request's index, so posting the same
  run twice counts it once.

They are posted in batches to ``POST /v1/experiments/events`` through the SDK.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from turnout.experiments.sdk import Experiments
from turnout.harness.accounting import Outcome

__all__ = ["events_of", "send_outcomes"]


def events_of(
    outcomes: Sequence[Outcome],
    experiment: str,
    run_id: str,
    started_at: float,
    unit_prefix: str = "user-",
    conversion: str = "conversion",
) -> list[dict[str, Any]]:
    """The exposures and conversion events of a run (times: ``started_at`` + offsets)."""
    out: list[dict[str, Any]] = []
    exposed: set[int] = set()
    for index, o in enumerate(outcomes):
        if not o.ok or o.user is None or o.cohort is None:
            continue
        unit = f"{unit_prefix}{o.user}"
        at = started_at + o.end
        if o.user not in exposed:
            exposed.add(o.user)
            out.append({"type": "exposure", "experiment": experiment, "unit": unit,
                        "variant": o.cohort, "at": at})  # fmt: skip
        if o.converted:
            out.append({"type": "event", "id": f"{run_id}-{index}", "unit": unit,
                        "name": conversion, "value": 1.0, "at": at})  # fmt: skip
    return out


def send_outcomes(
    api: str,
    outcomes: Sequence[Outcome],
    experiment: str,
    run_id: str,
    started_at: float,
    token: str | None = None,
    batch_size: int = 1000,
) -> int:
    """Post a run's exposures and conversions to the controller at ``api`` (``host:port``
    or a URL); returns how many events were sent."""
    url = api if api.startswith("http") else f"http://{api}"
    events = events_of(outcomes, experiment, run_id, started_at)
    sdk = Experiments(url, token, batch_size=batch_size, max_queue=max(batch_size, len(events)))
    sdk.start()
    for e in events:
        if e["type"] == "exposure":
            sdk.expose(experiment, e["unit"], e["variant"], at=e["at"])
        else:
            sdk.track(e["unit"], e["name"], e["value"], at=e["at"], event_id=e["id"])
    if not sdk.flush(60):
        sdk.close(0)
        raise TimeoutError(f"the controller at {url} did not take {sdk.queued} events in 60 s")
    sdk.close()
    return len(events)
