"""The CLI's client of the controller API: one place that maps answers to errors."""

from __future__ import annotations

from typing import Any

import httpx

from turnout.errors import SystemFault
from turnout.httpclient import answer


class ControllerClient:
    def __init__(self, api: str, token: str | None, timeout: float = 60.0) -> None:
        self.api = api
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=f"http://{api}", headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ControllerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        try:
            response = self._http.request(method, path, **kw)
        except httpx.ConnectError:
            raise SystemFault(
                f"the controller is not running on {self.api}; start it with 'turnout up'"
            ) from None
        except httpx.HTTPError as exc:
            raise SystemFault(f"controller {self.api}: {exc}") from None
        return answer(response, "")

    def status(self) -> dict[str, Any]:
        return self.call("GET", "/v1/status")

    def deploy(self, source: str, strategy: str | None, force: bool) -> dict[str, Any]:
        body = {"source": source, "strategy": strategy, "force": force}
        return self.call("POST", "/v1/deploys", json=body)

    def rollback(self, release: str | None, force: bool = False) -> dict[str, Any]:
        return self.call("POST", "/v1/rollback", json={"release": release, "force": force})

    def retire(self, release: str | None) -> dict[str, Any]:
        return self.call("POST", "/v1/retire", json={"release": release}, timeout=120)

    def events(self, deploy_id: int, after: int, wait: float = 5.0) -> dict[str, Any]:
        return self.call(
            "GET",
            f"/v1/deploys/{deploy_id}/events",
            params={"after": after, "wait": wait},
            timeout=wait + 30,
        )

    def deploy_detail(self, deploy_id: int) -> dict[str, Any]:
        return self.call("GET", f"/v1/deploys/{deploy_id}")

    def timeline(self, deploy_id: int) -> dict[str, Any]:
        return self.call("GET", f"/v1/deploys/{deploy_id}/timeline")

    def history(self, limit: int = 50) -> dict[str, Any]:
        return self.call("GET", "/v1/deploys", params={"limit": limit})

    def promote(self) -> dict[str, Any]:
        return self.call("POST", "/v1/promote")

    def abort(self) -> dict[str, Any]:
        return self.call("POST", "/v1/abort", json={})

    def logs(self, release: str | None, lines: int) -> dict[str, Any]:
        params: dict[str, Any] = {"lines": lines}
        if release:
            params["release"] = release
        return self.call("GET", "/v1/logs", params=params)

    def down(self) -> dict[str, Any]:
        return self.call("POST", "/v1/down", timeout=120)
