"""The digest of a release folder: the sha256 that names a release.

What it covers, for every entry below the root that is not ignored:

- the entry's path relative to the root, ``/``-separated, as the file system's bytes;
- its kind: folder, file, executable file (the owner's ``x`` bit), or symlink;
- a file's bytes, and a symlink's target text (links are never followed).

What it does not cover: modification times, owners, every other permission bit,
and the root folder's own name and location. So the same tree copied, extracted
from a tarball or exported from git has the same digest, and a changed byte, a
flipped ``x`` bit, a renamed or added file (or folder) gives another one.

Ignored anywhere in the tree, with everything below them: ``.git``,
``__pycache__``, ``.turnout`` and every ``*.pyc``.

The bytes hashed (version 1) are ``turnout-tree-v1\\0``, then one record per entry
in the order of their path bytes::

    kind \\0 path \\0 payload-length \\0 payload

``kind`` is ``d`` (folder, empty payload), ``f`` (file), ``x`` (executable file)
or ``l`` (symlink, payload = target); the length is in decimal ASCII. A path holds
no NUL byte and the payload is length-prefixed, so two trees never share a stream.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from turnout.errors import UserError

__all__ = ["IGNORED_NAMES", "Entry", "digest_tree", "is_ignored", "record_header", "tree_entries"]

IGNORED_NAMES = frozenset({".git", "__pycache__", ".turnout"})
_IGNORED_SUFFIX = ".pyc"
_VERSION = b"turnout-tree-v1\0"
_CHUNK = 1 << 20

Kind = Literal["d", "f", "x", "l"]


def is_ignored(relative: str) -> bool:
    """Whether a ``/``-separated relative path lies in an ignored entry."""
    return any(p in IGNORED_NAMES or p.endswith(_IGNORED_SUFFIX) for p in relative.split("/"))


def record_header(kind: Kind, path: bytes, size: int) -> bytes:
    """The bytes hashed before an entry's payload."""
    return b"%s\0%s\0%d\0" % (kind.encode(), path, size)


@dataclass(frozen=True)
class Entry:
    """One entry of a tree, as the digest sees it."""

    path: bytes  # relative, "/"-separated
    kind: Kind
    size: int  # payload length: file size, link target length, 0 for a folder
    location: Path  # where it is on disk


def tree_entries(root: Path) -> list[Entry]:
    """Every entry below ``root`` that is not ignored, in digest order."""
    entries: list[Entry] = []
    _collect(root, b"", entries)
    return sorted(entries, key=lambda e: e.path)


def digest_tree(path: Path) -> str:
    """The sha256 (hex) of the folder's content, as this module's docstring defines."""
    if not path.is_dir():
        raise UserError(f"{path} is not a folder; a release digest is taken of a folder")
    digest = hashlib.sha256(_VERSION)
    for entry in tree_entries(path):
        digest.update(record_header(entry.kind, entry.path, entry.size))
        if entry.kind == "l":
            digest.update(os.readlink(os.fsencode(entry.location)))
        elif entry.kind in ("f", "x"):
            _hash_file(digest, entry)
    return digest.hexdigest()


def _collect(folder: Path, prefix: bytes, entries: list[Entry]) -> None:
    try:
        children = list(os.scandir(folder))
    except OSError as exc:
        raise UserError(f"cannot read folder {folder} ({exc.strerror})") from None
    for child in children:
        if is_ignored(child.name):
            continue
        relative = prefix + os.fsencode(child.name)
        location = Path(child.path)
        try:
            info = child.stat(follow_symlinks=False)
            target = os.readlink(os.fsencode(location)) if stat.S_ISLNK(info.st_mode) else b""
        except OSError as exc:
            raise UserError(f"cannot read {location} ({exc.strerror})") from None
        if stat.S_ISLNK(info.st_mode):
            entries.append(Entry(relative, "l", len(target), location))
        elif stat.S_ISDIR(info.st_mode):
            entries.append(Entry(relative, "d", 0, location))
            _collect(location, relative + b"/", entries)
        elif stat.S_ISREG(info.st_mode):
            kind: Kind = "x" if info.st_mode & stat.S_IXUSR else "f"
            entries.append(Entry(relative, kind, info.st_size, location))
        else:
            raise UserError(
                f"{location} is a special file (a device, FIFO or socket); a release holds "
                "only files, folders and symlinks"
            )


def _hash_file(digest: hashlib._Hash, entry: Entry) -> None:
    seen = 0
    try:
        with open(entry.location, "rb") as file:
            while chunk := file.read(_CHUNK):
                digest.update(chunk)
                seen += len(chunk)
    except OSError as exc:
        raise UserError(f"cannot read file {entry.location} ({exc.strerror})") from None
    if seen != entry.size:
        raise UserError(f"file {entry.location} changed while it was read; digest a folder at rest")
