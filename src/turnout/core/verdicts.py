"""Why a deploy ended the way it did: stable reason codes for programs, message
templates for people, in one catalogue (tests assert the code; the CLI prints
the message)."""

from __future__ import annotations

REASONS: dict[str, str] = {
    "deployed": "{release} is live",
    "noop": "{release} is already live (same digest); use --force to deploy it again",
    "start_failed": "could not start {release}: {detail}",
    "exited": "an instance of {release} exited: {detail}",
    "not_healthy": "{release} did not become healthy within {timeout:g}s: {detail}",
    "smoke_failed": "smoke checks failed on {release}: {detail}",
    "crashed_after_switch": "{release} failed after the switch: {detail}",
    "aborted": "aborted by {detail}",
    "router_failed": "the router refused a change: {detail}",
    "analysis_failed": "the canary failed its analysis: {detail}",
    "analysis_error": "the canary's analysis had no data: {detail}",
    "analysis_inconclusive": "the canary's analysis was inconclusive: {detail}",
    "rolled_back": "rolled back to {release}",
    "rollback_failed": "the rollback itself failed: {detail}",
}


def message(reason: str, **values: object) -> str:
    template = REASONS.get(reason, "{detail}")
    try:
        return template.format(**values)
    except (KeyError, ValueError):
        return f"{reason}: {values.get('detail', '')}".strip()
