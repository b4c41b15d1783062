"""The release digest: what changes it, what does not, and its exact bytes."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from releases.helpers import make_tree
from turnout.errors import UserError
from turnout.releases.digest import digest_tree, is_ignored, record_header, tree_entries


def test_the_documented_encoding_byte_for_byte(tmp_path: Path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(b"hi")
    (tmp_path / "x").write_bytes(b"#!")
    (tmp_path / "x").chmod(0o700)
    (tmp_path / "l").symlink_to("x")
    stream = (
        b"turnout-tree-v1\0"
        + b"d\0d\x000\0"
        + b"f\0d/f\x002\0hi"
        + b"l\0l\x001\0x"
        + b"x\0x\x002\0#!"
    )
    assert digest_tree(tmp_path) == hashlib.sha256(stream).hexdigest()


def test_entries_are_ordered_by_path_bytes(tmp_path: Path):
    for name in ("a-c", "a/b", "B", "a.txt"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("")
    assert [e.path for e in tree_entries(tmp_path)] == [b"B", b"a", b"a-c", b"a.txt", b"a/b"]


def test_headers_cannot_be_confused():
    assert record_header("f", b"ab", 1) != record_header("f", b"a", 21)
    assert record_header("x", b"run", 10) == b"x\0run\x0010\0"


# Each change below must give another digest.
def _write(path: str, data: str = "changed\n") -> Callable[[Path], None]:
    return lambda root: (root / path).write_text(data)


CHANGES: dict[str, Callable[[Path], None]] = {
    "content": _write("app.py"),
    "one byte of binary content": lambda r: (r / "sub/data.txt").write_bytes(b"\x00\x02 binary\n"),
    "executable bit set": lambda r: (r / "app.py").chmod(0o744),
    "executable bit cleared": lambda r: (r / "run.sh").chmod(0o644),
    "rename": lambda r: (r / "app.py").rename(r / "main.py"),
    "move to a folder": lambda r: (r / "app.py").rename(r / "sub" / "app.py"),
    "new file": _write("new.txt"),
    "new empty file": _write("sub/empty.txt", ""),
    "new empty folder": lambda r: (r / "logs").mkdir(),
    "removed empty folder": lambda r: (r / "empty").rmdir(),
    "symlink target": lambda r: (os.remove(r / "current"), (r / "current").symlink_to("app.py")),
    "symlink replaced by its file": lambda r: (
        os.remove(r / "current"),
        shutil.copyfile(r / "sub/data.txt", r / "current"),
    ),
}


@pytest.mark.parametrize("change", CHANGES, ids=list(CHANGES))
def test_a_change_changes_the_digest(tmp_path: Path, change: str):
    root = make_tree(tmp_path / "tree")
    before = digest_tree(root)
    CHANGES[change](root)
    assert digest_tree(root) != before


# Each change below must keep the digest.
SAME: dict[str, Callable[[Path], None]] = {
    "mtimes": lambda r: [os.utime(p, (1, 1), follow_symlinks=False) for p in r.rglob("*")],
    "group and other bits": lambda r: ((r / "app.py").chmod(0o600), (r / "run.sh").chmod(0o700)),
    "a .git folder": _write(".git"),
    "a nested .git folder": lambda r: (
        (r / "sub/.git").mkdir(),
        (r / "sub/.git/HEAD").write_text("x"),
    ),
    "__pycache__": lambda r: (
        (r / "__pycache__").mkdir(),
        (r / "__pycache__/app.cpython-311.pyc").write_bytes(b"\0"),
    ),
    "a stray .pyc": _write("sub/old.pyc"),
    "a .turnout folder": lambda r: (
        (r / ".turnout").mkdir(),
        (r / ".turnout/state.json").write_text("{}"),
    ),
}


@pytest.mark.parametrize("change", SAME, ids=list(SAME))
def test_what_the_digest_ignores(tmp_path: Path, change: str):
    root = make_tree(tmp_path / "tree")
    before = digest_tree(root)
    SAME[change](root)
    assert digest_tree(root) == before


def test_the_folder_location_and_name_do_not_matter(tmp_path: Path):
    root = make_tree(tmp_path / "tree")
    moved = tmp_path / "elsewhere" / "other-name"
    shutil.copytree(root, moved, symlinks=True)
    assert digest_tree(moved) == digest_tree(root)


def test_ignored_paths():
    assert is_ignored(".git") and is_ignored("sub/.git/objects/ab")
    assert is_ignored("__pycache__/x.py") and is_ignored("a/b.pyc") and is_ignored(".turnout/x")
    assert not is_ignored("gitignore") and not is_ignored(".github/workflows/ci.yml")
    assert not is_ignored("app.py") and not is_ignored("pyc/readme")


def test_a_special_file_is_refused(tmp_path: Path):
    root = make_tree(tmp_path / "tree")
    os.mkfifo(root / "sub" / "pipe")
    with pytest.raises(UserError, match=r"sub/pipe is a special file .* only files, folders"):
        digest_tree(root)


def test_the_digest_of_a_file_is_refused(tmp_path: Path):
    (tmp_path / "f").write_text("")
    with pytest.raises(UserError, match="is not a folder"):
        digest_tree(tmp_path / "f")
