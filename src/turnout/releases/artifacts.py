"""Release artifacts: immutable folders named by the digest of their content.

``ingest`` turns a source into ``<releases_dir>/<digest>/``:

- a folder (kind ``folder``) is copied: symlinks as links, ignored entries left out;
- a ``*.tar.gz``, ``*.tgz`` or ``*.tar`` archive (``tar``) is extracted safely
  (:mod:`.archives`); the archive's root is the release's root;
- a ``*.whl`` wheel (``wheel``) is pip-installed into ``site/``, and
  ``Ingested.env`` holds the ``PYTHONPATH`` its instances need (:mod:`.wheel`);
- ``git:REF`` or ``git:/path/to/repo@REF`` (``git``) is the ``git archive`` of the
  commit, extracted like a tar (:mod:`.git`).

The content lands in a scratch folder inside ``releases_dir``, is digested
(:mod:`.digest`), made read-only (folders and files ``r-x``/``r--``, by the
executable bit) and renamed to ``<digest>/`` in one step. When that folder exists
already it is the same release, and it is reused. ``prune`` removes the releases
that are not kept.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from turnout.errors import SystemFault, UserError
from turnout.releases.archives import extract_tar
from turnout.releases.digest import digest_tree, is_ignored
from turnout.releases.git import PREFIX as GIT_PREFIX
from turnout.releases.git import export_commit
from turnout.releases.wheel import SITE, install_wheel

__all__ = ["VALID_SOURCES", "Ingested", "SourceKind", "ingest", "is_digest", "prune", "source_kind"]

SourceKind = Literal["folder", "tar", "wheel", "git"]
VALID_SOURCES = (
    "a folder, a .tar.gz/.tgz/.tar archive, a .whl wheel, git:REF or git:/path/to/repo@REF"
)
_TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar")
_DIGEST = re.compile(r"[0-9a-f]{64}")
_SCRATCH_PREFIX = ".ingest-"


@dataclass(frozen=True)
class Ingested:
    """One ingested release."""

    digest: str  # sha256 of the content (see turnout.releases.digest)
    path: Path  # <releases_dir>/<digest>, read-only
    source: str  # as given
    kind: SourceKind
    env: dict[str, str] = field(default_factory=dict)  # the instances' environment needs these
    commit: str | None = None  # the commit a git source resolved to


def source_kind(source: str) -> SourceKind:
    """The kind a source's text says it is; a path without a known suffix is a folder."""
    if source.startswith(GIT_PREFIX):
        return "git"
    if source.endswith(_TAR_SUFFIXES):
        return "tar"
    if source.endswith(".whl"):
        return "wheel"
    return "folder"


def is_digest(name: str) -> bool:
    """Whether ``name`` is a full release digest (64 lowercase hex digits)."""
    return _DIGEST.fullmatch(name) is not None


def ingest(source: str, releases_dir: Path, *, cwd: Path) -> Ingested:
    """Store ``source`` as a release under ``releases_dir``.

    A relative source path (and the repository of ``git:REF``) is taken from ``cwd``.
    Raises ``UserError`` naming the source when it is missing, of an unknown type,
    unreadable or unsafe, or names no commit.
    """
    kind = source_kind(source)
    path = cwd if kind == "git" else _existing(source, cwd, kind)
    releases_dir = releases_dir.absolute()  # Ingested.path and PYTHONPATH must not be relative
    releases_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=_SCRATCH_PREFIX, dir=releases_dir))
    try:
        tree = scratch / "release"
        commit = _fill(tree, kind, source, path, releases_dir)
        digest = digest_tree(tree)
        final = _publish(tree, releases_dir / digest)
    finally:
        _remove(scratch)
    env = {"PYTHONPATH": str(final / SITE)} if kind == "wheel" else {}
    return Ingested(digest, final, source, kind, env, commit)


def prune(releases_dir: Path, keep: set[str]) -> list[str]:
    """Remove every release folder whose digest is not in ``keep``; the digests removed.

    Only ``<64 hex digits>/`` folders are releases: anything else in
    ``releases_dir`` (such as an ingest in progress) is left alone.
    """
    wrong = sorted(k for k in keep if not is_digest(k))
    if wrong:
        raise UserError(
            f"cannot prune with {wrong[0]!r} kept: it is not a release digest; keep full "
            "digests (64 hex digits) as ingest returns them"
        )
    if not releases_dir.is_dir():
        return []
    removed = []
    for entry in sorted(releases_dir.iterdir()):
        if is_digest(entry.name) and entry.name not in keep and not entry.is_symlink():
            _remove(entry)
            removed.append(entry.name)
    return removed


def _existing(source: str, cwd: Path, kind: SourceKind) -> Path:
    path = cwd / Path(source).expanduser()
    if not path.exists():
        raise UserError(f"release source {source!r} does not exist in {cwd}; give {VALID_SOURCES}")
    if kind == "folder" and not path.is_dir():
        raise UserError(
            f"release source {source!r} is a file of unknown type; give {VALID_SOURCES}"
        )
    if kind != "folder" and not path.is_file():
        raise UserError(f"release source {source!r} is not a file; give {VALID_SOURCES}")
    return path


def _fill(tree: Path, kind: SourceKind, source: str, path: Path, releases_dir: Path) -> str | None:
    """Write the release's content to the new folder ``tree``; the git commit, if any."""
    if kind == "git":
        archive = tree.with_name("git.tar")
        commit = export_commit(source, path, archive)
        extract_tar(archive, tree, source)
        return commit
    if kind == "tar":
        extract_tar(path, tree, source)
    elif kind == "wheel":
        install_wheel(path, tree, source)
    else:
        _check_not_inside(path, releases_dir, source)
        _copy_folder(path, tree)
    return None


def _check_not_inside(folder: Path, releases_dir: Path, source: str) -> None:
    try:
        inside = releases_dir.resolve().relative_to(folder.resolve())
    except ValueError:
        return
    if not is_ignored(inside.as_posix()):
        raise UserError(
            f"release source {source!r} contains the releases folder {releases_dir}; keep "
            "releases outside the source, or under its .turnout/ folder"
        )


def _copy_folder(source: Path, dest: Path) -> None:
    """Copy files (with their executable bit), folders and symlinks; skip ignored entries."""
    dest.mkdir()
    try:
        children = list(os.scandir(source))
    except OSError as exc:
        raise UserError(f"cannot read folder {source} ({exc.strerror})") from None
    for child in children:
        if is_ignored(child.name):
            continue
        target = dest / child.name
        try:
            info = child.stat(follow_symlinks=False)
            if stat.S_ISLNK(info.st_mode):
                os.symlink(os.readlink(child.path), target)
            elif stat.S_ISDIR(info.st_mode):
                _copy_folder(Path(child.path), target)
            elif stat.S_ISREG(info.st_mode):
                shutil.copyfile(child.path, target, follow_symlinks=False)
                target.chmod(0o755 if info.st_mode & stat.S_IXUSR else 0o644)
            else:
                raise UserError(
                    f"{child.path} is a special file (a device, FIFO or socket); a release "
                    "holds only files, folders and symlinks"
                )
        except OSError as exc:
            raise UserError(f"cannot copy {child.path} ({exc.strerror})") from None


def _publish(tree: Path, final: Path) -> Path:
    """Seal ``tree`` read-only and rename it to ``final``, or reuse ``final`` if it exists."""
    _seal(tree)
    try:
        tree.rename(final)
    except OSError as exc:
        if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY) or not final.is_dir():
            raise SystemFault(f"cannot store release {final} ({exc.strerror})") from None
    return final


def _seal(root: Path) -> None:
    """Canonical read-only modes: r-x for folders and executables, r-- for other files."""
    for folder, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            path = os.path.join(folder, name)
            mode = os.lstat(path).st_mode
            if not stat.S_ISLNK(mode):
                executable = stat.S_ISDIR(mode) or mode & stat.S_IXUSR
                os.chmod(path, 0o555 if executable else 0o444)
    root.chmod(0o555)


def _remove(path: Path) -> None:
    """Remove a sealed tree: give its folders write permission back first."""
    if not path.exists():
        return
    if path.is_dir():
        path.chmod(0o755)
        for folder, dirs, _ in os.walk(path):
            for name in dirs:
                sub = os.path.join(folder, name)
                if not os.path.islink(sub):
                    os.chmod(sub, 0o755)
    shutil.rmtree(path)
