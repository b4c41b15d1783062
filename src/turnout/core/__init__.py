"""Pure, synchronous domain code: no asyncio, sockets, subprocesses or SQL here.

``tests/test_architecture.py`` enforces that nothing under ``turnout.core``
imports an I/O module.
"""
