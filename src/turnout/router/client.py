"""A client of the router's admin API, for the control plane, the demo and tests.

Every call maps the router's answer to turnout's errors: 400 -> ``UserError``,
409 -> ``ConflictError``, anything else unexpected (or no answer) -> ``SystemFault``.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from turnout.errors import SystemFault
from turnout.httpclient import answer


class RouterAdmin:
    def __init__(self, address: str, token: str | None = None, timeout: float = 30.0) -> None:
        self.address = address
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=f"http://{address}", headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RouterAdmin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        # A router handing over to its successor answers 503 + Retry-After, and closes
        # idle connections (a request crossing that close breaks on a kept-alive
        # connection, unread): both are retried, on a new connection.
        for attempt in range(20):
            try:
                response = self._http.request(method, path, **kw)
            except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) as exc:
                if attempt == 19:
                    raise SystemFault(f"router admin {self.address}: {exc}") from None
            except httpx.HTTPError as exc:
                raise SystemFault(f"router admin {self.address}: {exc}") from None
            else:
                if response.status_code != 503 or "retry-after" not in response.headers:
                    break
            time.sleep(min(0.05 * 2**attempt, 0.5))
        return answer(response, f"router admin {self.address}")

    def restart(self, timeout: str = "30s") -> dict[str, Any]:
        """Hand over to a new router process (same command line); its pid and timing."""
        return self._call("POST", "/v1/restart", json={"timeout": timeout})

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/v1/health")

    def routes(self) -> dict[str, Any]:
        return self._call("GET", "/v1/routes")

    def put_routes(self, table: dict[str, Any], wait_healthy: str | None = None) -> int:
        """Install ``table``; returns its generation, live once this returns."""
        params = {"wait_healthy": wait_healthy} if wait_healthy else None
        return int(self._call("PUT", "/v1/routes", json=table, params=params)["generation"])

    def instances(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/v1/instances")["instances"])

    def drain(
        self, *, pool: str | None = None, instance: str | None = None, timeout: str = "30s"
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"timeout": timeout}
        body.update({"pool": pool} if pool is not None else {"instance": instance})
        return self._call("POST", "/v1/drain", json=body)

    def undrain(self, *, pool: str | None = None, instance: str | None = None) -> dict[str, Any]:
        body = {"pool": pool} if pool is not None else {"instance": instance}
        return self._call("POST", "/v1/undrain", json=body)

    def metrics(self) -> str:
        try:
            return self._http.get("/metrics").text
        except httpx.HTTPError as exc:
            raise SystemFault(f"router admin {self.address}: {exc}") from None
