"""Traffic providers move requests between releases. The built-in router is the
default; HAProxy and nginx implement the same interface later.

Every change is verified: ``apply`` returns the generation the provider reports
live, and reads it back (Argo Rollouts pairs SetWeight with VerifyWeight the same
way). A provider that is briefly unreachable (being restarted) is retried for a
few seconds before the step fails.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import httpx

from turnout.errors import SystemFault
from turnout.httpclient import answer


class Traffic(Protocol):
    async def apply(self, table: dict[str, Any]) -> int: ...

    async def drain(self, addresses: list[str], timeout: float) -> dict[str, Any]: ...

    async def undrain(self, addresses: list[str]) -> None: ...

    async def instances(self) -> dict[str, dict[str, Any]]: ...

    async def table(self) -> dict[str, Any]: ...

    async def stats(self) -> dict[str, Any]: ...


class RouterTraffic:
    """The built-in router, through its admin API."""

    def __init__(self, admin: str, token: str | None, patience: float = 10.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.admin = admin
        self.patience = patience
        self._http = httpx.AsyncClient(
            base_url=f"http://{admin}", headers=headers, timeout=httpx.Timeout(120.0, connect=2.0)
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + self.patience
        delay = 0.05
        while True:
            try:
                response = await self._http.request(method, path, **kw)
                # 503 + Retry-After: the router is handing over to its successor.
                if not (response.status_code == 503 and "retry-after" in response.headers):
                    break
                problem = response.text.strip()
            except httpx.TransportError as exc:
                problem = str(exc)
            if asyncio.get_running_loop().time() > deadline:
                raise SystemFault(f"router admin {self.admin} unreachable: {problem}") from None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
        return answer(response, "router")

    async def apply(self, table: dict[str, Any]) -> int:
        generation = int((await self._call("PUT", "/v1/routes", json=table))["generation"])
        live = int((await self._call("GET", "/v1/routes"))["generation"])
        if live < generation:
            raise SystemFault(f"router reports generation {live} after acknowledging {generation}")
        return generation

    async def instances(self) -> dict[str, dict[str, Any]]:
        data = await self._call("GET", "/v1/instances")
        return {i["address"]: i for i in data["instances"] if not i.get("retired")}

    async def table(self) -> dict[str, Any]:
        return await self._call("GET", "/v1/routes")

    async def stats(self) -> dict[str, Any]:
        """Per-pool counters (requests by class, latency histogram): timeline samples."""
        return await self._call("GET", "/v1/stats")

    async def drain(self, addresses: list[str], timeout: float) -> dict[str, Any]:
        known = await self.instances()
        present = [a for a in addresses if a in known]
        if not present:
            return {"drained": True, "in_flight": 0, "waited_ms": 0.0, "instances": []}
        return await self._call(
            "POST", "/v1/drain", json={"instances": present, "timeout": f"{timeout:g}s"}
        )

    async def undrain(self, addresses: list[str]) -> None:
        known = await self.instances()
        present = [a for a in addresses if a in known and known[a].get("state") != "ready"]
        if present:
            await self._call("POST", "/v1/undrain", json={"instances": present})
