"""Deterministic bodies that a client can check byte for byte.

Every body the demo app generates (``/bytes``, ``/stream``) is a slice of one
endless text: 16-byte blocks, each holding its own block number in hex and a
newline (``000000000000000\\n``, ``000000000000001\\n``, ...). A slice starting at
any offset can be recomputed from the offset alone, so a missing, repeated or
reordered byte anywhere changes the text and is caught.
"""

from __future__ import annotations

from functools import lru_cache

__all__ = ["BLOCK", "pattern"]

BLOCK = 16
_PAGE = 64 * 1024  # a multiple of BLOCK; pages are cached, bodies are sliced from them
_BLOCKS_PER_PAGE = _PAGE // BLOCK


@lru_cache(maxsize=32)
def _page(index: int) -> bytes:
    first = index * _BLOCKS_PER_PAGE
    return b"".join(b"%015x\n" % n for n in range(first, first + _BLOCKS_PER_PAGE))


def pattern(start: int, length: int) -> bytes:
    """The bytes ``[start, start + length)`` of the endless text."""
    if start < 0 or length < 0:
        raise ValueError(f"start and length must be >= 0, got {start}, {length}")
    end = start + length
    if length <= _PAGE - start % _PAGE:  # the common case: one page
        offset = start % _PAGE
        return _page(start // _PAGE)[offset : offset + length]
    pieces = []
    position = start
    while position < end:
        index, offset = divmod(position, _PAGE)
        take = min(_PAGE - offset, end - position)
        pieces.append(_page(index)[offset : offset + take])
        position += take
    return b"".join(pieces)
