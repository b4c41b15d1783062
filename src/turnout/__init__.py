"""turnout: zero-downtime deployments.

The package is layered (see docs/architecture.md):

- ``turnout.core``: pure, synchronous domain code (route tables, health state,
  HTTP/1.1 rules, strategies, analysis). No sockets, processes or databases.
- edges such as ``turnout.router`` (the data plane) do the I/O behind small
  interfaces;
- ``turnout.cli`` is the command-line face.
"""

__version__ = "0.1.0"
