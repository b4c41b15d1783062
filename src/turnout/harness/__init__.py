"""The load harness: the zero-downtime proof (docs/harness.md).

Puts a realistic mix of traffic on a target while something happens (a deploy,
a weight switch, an instance killed) and counts every failure by kind.
"""

from turnout.harness.accounting import Client, Kind, Outcome, Stage, Summary, summarize
from turnout.harness.load import LoadRunner, Progress, run_load
from turnout.harness.report import Report
from turnout.harness.spec import (
    KeepAliveClients,
    LoadSpec,
    Mix,
    NewConnectionClients,
    PostClients,
    SlowClients,
    StreamClients,
    WebSocketClients,
)

__all__ = [
    "Client",
    "KeepAliveClients",
    "Kind",
    "LoadRunner",
    "LoadSpec",
    "Mix",
    "NewConnectionClients",
    "Outcome",
    "PostClients",
    "Progress",
    "Report",
    "SlowClients",
    "Stage",
    "StreamClients",
    "Summary",
    "WebSocketClients",
    "run_load",
    "summarize",
]
