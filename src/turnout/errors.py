"""The error tree, branched by who must act.

- ``UserError``: bad input (config, arguments, a route table); exit code 2, HTTP 400.
- ``ConflictError``: the request is valid but the current state forbids it; exit 2, HTTP 409.
- ``EnvironmentError_``-style failures of the world around turnout (port in use,
  program missing) are ``SystemFault``; exit code 1, HTTP 503.

Every message is one line a person can act on: what was wrong, where, and what
would be valid.
"""

from __future__ import annotations


class TurnoutError(Exception):
    """Base of every error turnout reports to a user."""

    exit_code = 1
    http_status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UserError(TurnoutError):
    """The input is wrong: fix the config, the arguments or the request body."""

    exit_code = 2
    http_status = 400


class ConflictError(TurnoutError):
    """The input is valid, but the current state does not allow it now."""

    exit_code = 2
    http_status = 409


class SystemFault(TurnoutError):
    """The environment failed: a port is taken, a program is missing, a peer is down."""

    exit_code = 1
    http_status = 503
