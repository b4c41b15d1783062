"""The data plane: an HTTP/1.1 reverse proxy in front of app instances.

Modules, from the socket inwards:

- ``server``: the process — listeners, signals, graceful shutdown, the clock.
- ``downstream``: one client connection and the exchanges (request/response
  pairs) on it; ``upstream``: one connection to an instance.
- ``instances``: per-instance state (admin state, health, ejection, in-flight,
  idle connections, counters); ``table``: a compiled route table generation.
- ``healthcheck``: active checks; ``admin``: the admin API; ``metrics``:
  Prometheus exposition; ``state``: the persisted table.

HTTP rules live in ``turnout.core.http1`` and route-table validation in
``turnout.core.routes``: pure code the protocol objects call.
"""
