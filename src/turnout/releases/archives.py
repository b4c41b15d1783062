"""Extracting a tar archive into a release folder, safely.

Every member is checked before anything is written, and one unsafe member
refuses the whole archive. A member is refused when it

- has an absolute path, or a ``..`` component;
- is a device file, a FIFO or another special file (only files, folders,
  symlinks and hard links are allowed);
- is a link whose target is absolute, climbs out of the archive, or passes
  through another symlink (where ``..`` would no longer mean what it says);
- lies below a symlink of the archive (writing it would follow the link);
- is a hard link to something that is not a file of the archive.

Then ``tarfile``'s ``data`` filter extracts, as a second line of defence. Members
in ignored places (``.git/``, ``__pycache__/``, ``*.pyc``, ``.turnout/``) are not
extracted, so the folder holds exactly what its digest covers.
"""

from __future__ import annotations

import contextlib
import tarfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from turnout.errors import UserError
from turnout.releases.digest import is_ignored

__all__ = ["Member", "archive_problem", "extract_tar", "member_problem"]

MemberKind = Literal["file", "folder", "symlink", "hardlink", "device", "fifo", "other"]


@dataclass(frozen=True)
class Member:
    """What the safety rules need to know of one archive member."""

    name: str
    kind: MemberKind
    linkname: str = ""


def member_parts(name: str) -> list[str]:
    """The components of a member name, without empty and ``.`` ones."""
    return [part for part in name.split("/") if part not in ("", ".")]


def member_problem(member: Member, links: frozenset[str] = frozenset()) -> str | None:
    """Why ``member`` is unsafe on its own (``links``: the archive's symlink paths), or None."""
    if member.name.startswith("/"):
        return "has an absolute path"
    parts = member_parts(member.name)
    if ".." in parts:
        return "climbs out of the archive with '..'"
    if member.kind in ("device", "fifo", "other"):
        return {"device": "is a device file", "fifo": "is a FIFO"}.get(
            member.kind, "is a special file"
        )
    if not parts and member.kind != "folder":
        return "replaces the archive's root folder"
    if member.kind not in ("symlink", "hardlink"):
        return None
    if member.linkname.startswith("/"):
        return f"links to the absolute path {member.linkname!r}"
    base = parts[:-1] if member.kind == "symlink" else []  # hard links name archive paths
    return _target_problem(base, member.linkname, links)


def archive_problem(members: Sequence[Member]) -> tuple[str, str] | None:
    """The first unsafe member and why, or None when the whole archive is safe."""
    links = frozenset("/".join(member_parts(m.name)) for m in members if m.kind == "symlink")
    files = {"/".join(member_parts(m.name)) for m in members if m.kind == "file"}
    for member in members:
        problem = member_problem(member, links) or _below_link(member, links)
        if problem is None and member.kind == "hardlink":
            target = "/".join(member_parts(member.linkname))
            if target not in files:
                problem = f"is a hard link to {member.linkname!r}, which is no file of the archive"
        if problem is not None:
            return member.name, problem
    return None


def extract_tar(archive: Path, dest: Path, source: str) -> None:
    """Extract ``archive`` into the new folder ``dest``; ``source`` names it in errors."""
    dest.mkdir()
    with _reading(source), tarfile.open(archive, "r:*") as tar:
        infos = tar.getmembers()
        found = archive_problem([_member(info) for info in infos])
        if found is not None:
            name, problem = found
            raise UserError(
                f"release source {source!r}: member {name!r} {problem}; an archive may hold "
                "only files, folders and links that stay inside it"
            )
        wanted = [i for i in infos if not is_ignored("/".join(member_parts(i.name)))]
        tar.extractall(dest, members=wanted, filter="data")


def _target_problem(base: list[str], target: str, links: frozenset[str]) -> str | None:
    path = list(base)  # base itself is checked by _below_link
    for number, step in enumerate(member_parts(target)):
        here = "/".join(path)
        if number and here in links:
            return f"links to {target!r} through the symlink {here!r}"
        if step != "..":
            path.append(step)
        elif path:
            path.pop()
        else:
            return f"links to {target!r}, outside the archive"
    return None


def _below_link(member: Member, links: frozenset[str]) -> str | None:
    parts = member_parts(member.name)
    for end in range(1, len(parts)):
        prefix = "/".join(parts[:end])
        if prefix in links:
            return f"lies below the symlink {prefix!r}"
    return None


def _member(info: tarfile.TarInfo) -> Member:
    kind: MemberKind
    if info.isfile():
        kind = "file"
    elif info.isdir():
        kind = "folder"
    elif info.issym():
        kind = "symlink"
    elif info.islnk():
        kind = "hardlink"
    elif info.ischr() or info.isblk():
        kind = "device"
    elif info.isfifo():
        kind = "fifo"
    else:
        kind = "other"
    return Member(info.name, kind, info.linkname)


@contextlib.contextmanager
def _reading(source: str) -> Iterator[None]:
    """Map what a broken archive raises (tarfile, gzip, zlib, bz2, lzma) to one UserError."""
    try:
        yield
    except tarfile.FilterError as exc:  # the data filter caught what the checks above missed
        raise UserError(
            f"release source {source!r}: {exc}; an archive may hold only files, folders and "
            "links that stay inside it"
        ) from None
    except (tarfile.TarError, EOFError, zlib.error, OSError, ValueError) as exc:
        reason = str(exc) or type(exc).__name__
        raise UserError(
            f"release source {source!r} is not a readable tar archive ({reason}); give a "
            ".tar.gz, .tgz or .tar made with tar"
        ) from None
