"""The control plane: the deploy engine, the controller process and its API.

- ``engine``: runs plans step by step, journaled, against the runtime, the
  traffic provider and the store; recovers after a restart.
- ``traffic``: the traffic-provider interface and the built-in router's client.
- ``daemon``: the controller process (API, timers, supervision).
"""
