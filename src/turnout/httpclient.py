"""One mapping from an API's answer to turnout's errors, for every client of the
router's admin API and of the controller's API.

2xx → the JSON body; 400, 401, 404 → ``UserError`` (the request must change);
409 → ``ConflictError`` (the state forbids it now); anything else → ``SystemFault``.
The message is the server's one-line ``error``, prefixed with who answered.
"""

from __future__ import annotations

from typing import Any

import httpx

from turnout.errors import ConflictError, SystemFault, UserError


def answer(response: httpx.Response, who: str) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        data = {"error": response.text.strip()}
    if response.status_code < 300:
        return dict(data) if isinstance(data, dict) else {"data": data}
    text = str(data.get("error", response.reason_phrase)) if isinstance(data, dict) else ""
    message = f"{who}: {text}" if who else text
    if response.status_code in (400, 401, 404):
        raise UserError(message)
    if response.status_code == 409:
        raise ConflictError(message)
    raise SystemFault(message)
