"""The control plane's memory, in SQLite by default (``turnout.store.sqlite``)."""

from turnout.store.sqlite import Store

__all__ = ["Store"]
