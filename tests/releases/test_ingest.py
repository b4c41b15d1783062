"""Ingesting folders and tar archives into digest-named, read-only releases; pruning."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

from releases.helpers import make_tree, tar_member, tar_of_folder, write_tar
from turnout.errors import UserError
from turnout.releases.artifacts import Ingested, ingest, is_digest, prune, source_kind
from turnout.releases.digest import digest_tree


@pytest.fixture
def app(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "app")


@pytest.fixture
def releases(tmp_path: Path) -> Path:
    return tmp_path / "releases"


def listing(root: Path) -> dict[str, str]:
    """Relative path → kind and payload, for comparing trees."""
    found = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_symlink():
            found[relative] = f"link {os.readlink(path)}"
        elif path.is_dir():
            found[relative] = "folder"
        else:
            executable = "x" if path.stat().st_mode & stat.S_IXUSR else "-"
            found[relative] = f"{executable} {path.read_bytes()!r}"
    return found


def test_a_folder_becomes_a_read_only_release_named_by_its_digest(
    app: Path, releases: Path, tmp_path: Path
):
    (app / ".git").mkdir()
    (app / ".git" / "HEAD").write_text("ref: main")
    (app / "__pycache__").mkdir()
    (app / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0")

    got = ingest("app", releases, cwd=tmp_path)

    assert got == Ingested(digest_tree(app), releases / got.digest, "app", "folder")
    assert is_digest(got.digest)
    assert [p.name for p in releases.iterdir()] == [got.digest]  # no scratch left behind
    expected = {k: v for k, v in listing(app).items() if not k.startswith((".git", "__pyc"))}
    assert listing(got.path) == expected
    assert digest_tree(got.path) == got.digest
    modes = {
        p.relative_to(got.path).as_posix(): stat.S_IMODE(p.lstat().st_mode)
        for p in [got.path, *got.path.rglob("*")]
        if not p.is_symlink()
    }
    assert modes == {
        ".": 0o555,
        "app.py": 0o444,
        "run.sh": 0o555,
        "empty": 0o555,
        "sub": 0o555,
        "sub/data.txt": 0o444,
    }


def test_ingesting_the_same_content_again_reuses_the_release(
    app: Path, releases: Path, tmp_path: Path
):
    first = ingest(str(app), releases, cwd=Path("/"))
    inode = first.path.stat().st_ino
    copy = tmp_path / "copy"
    shutil.copytree(app, copy, symlinks=True)
    second = ingest("copy", releases, cwd=tmp_path)

    assert second.digest == first.digest and second.path == first.path
    assert second.path.stat().st_ino == inode
    assert [p.name for p in releases.iterdir()] == [first.digest]


def test_another_content_is_another_release(app: Path, releases: Path, tmp_path: Path):
    first = ingest("app", releases, cwd=tmp_path)
    (app / "app.py").write_text("print('v2')\n")
    second = ingest("app", releases, cwd=tmp_path)
    assert second.digest != first.digest
    assert sorted(p.name for p in releases.iterdir()) == sorted([first.digest, second.digest])
    assert (first.path / "app.py").read_text() == "print('shop')\n"


@pytest.mark.parametrize("name", ["app.tar.gz", "app.tgz", "app.tar"])
def test_a_tarball_of_a_folder_is_the_same_release(
    app: Path, releases: Path, tmp_path: Path, name: str
):
    folder = ingest("app", releases, cwd=tmp_path)
    archive = ingest(name, releases, cwd=tar_of_folder(app, tmp_path / name).parent)
    assert (archive.kind, archive.digest, archive.path) == ("tar", folder.digest, folder.path)


def test_a_tarball_made_by_the_tar_program_is_the_same_release(
    app: Path, releases: Path, tmp_path: Path
):
    tar = shutil.which("tar")
    if tar is None:
        pytest.skip("no tar program")
    subprocess.run([tar, "-czf", str(tmp_path / "app.tgz"), "-C", str(app), "."], check=True)
    assert ingest("app.tgz", releases, cwd=tmp_path).digest == digest_tree(app)


def test_ignored_members_of_an_archive_are_not_extracted(releases: Path, tmp_path: Path):
    archive = write_tar(
        tmp_path / "a.tgz",
        [
            tar_member("app.py", data=b"x"),
            tar_member(".git/", tarfile.DIRTYPE),
            tar_member(".git/HEAD", data=b"ref"),
            tar_member("m.pyc", data=b"\0"),
        ],
    )
    got = ingest(str(archive), releases, cwd=tmp_path)
    assert listing(got.path) == {"app.py": "- b'x'"}


UNSAFE = {
    "absolute path": ([tar_member("/tmp/evil", data=b"x")], "'/tmp/evil' has an absolute path"),
    "dot-dot": (
        [tar_member("../evil", data=b"x")],
        "'../evil' climbs out of the archive with '..'",
    ),
    "absolute symlink": (
        [tar_member("etc", tarfile.SYMTYPE, linkname="/etc")],
        "'etc' links to the absolute path '/etc'",
    ),
    "symlink escaping": (
        [tar_member("up", tarfile.SYMTYPE, linkname="../..")],
        "'up' links to '../..', outside the archive",
    ),
    "hard link escaping": (
        [tar_member("h", tarfile.LNKTYPE, linkname="../secret")],
        "'h' links to '../secret', outside the archive",
    ),
    "file below a symlink": (
        [tar_member("d", tarfile.SYMTYPE, linkname="."), tar_member("d/x", data=b"x")],
        "'d/x' lies below the symlink 'd'",
    ),
    "character device": ([tar_member("null", tarfile.CHRTYPE)], "'null' is a device file"),
    "block device": ([tar_member("sda", tarfile.BLKTYPE)], "'sda' is a device file"),
    "fifo": ([tar_member("pipe", tarfile.FIFOTYPE)], "'pipe' is a FIFO"),
}


@pytest.mark.parametrize("case", UNSAFE, ids=list(UNSAFE))
def test_an_unsafe_archive_is_refused_whole(releases: Path, tmp_path: Path, case: str):
    members, problem = UNSAFE[case]
    archive = write_tar(tmp_path / "bad.tar.gz", [tar_member("ok.txt", data=b"ok"), *members])
    with pytest.raises(UserError) as caught:
        ingest("bad.tar.gz", releases, cwd=tmp_path)
    assert str(caught.value) == (
        f"release source 'bad.tar.gz': member {problem}; an archive may hold only files, "
        "folders and links that stay inside it"
    )
    assert list(releases.iterdir()) == []  # nothing extracted, no scratch left
    assert archive.exists()
    assert not (tmp_path / "evil").exists() and not (tmp_path.parent / "evil").exists()


def test_a_corrupt_archive_is_a_user_error(app: Path, releases: Path, tmp_path: Path):
    (tmp_path / "junk.tar.gz").write_bytes(b"this is not a tarball at all" * 50)
    good = tar_of_folder(app, tmp_path / "good.tgz").read_bytes()
    (tmp_path / "cut.tgz").write_bytes(good[: len(good) // 2])
    for name in ("junk.tar.gz", "cut.tgz"):
        with pytest.raises(UserError) as caught:
            ingest(name, releases, cwd=tmp_path)
        assert str(caught.value).startswith(
            f"release source {name!r} is not a readable tar archive ("
        )
        assert str(caught.value).endswith("); give a .tar.gz, .tgz or .tar made with tar")
    assert list(releases.iterdir()) == []


VALID = "give a folder, a .tar.gz/.tgz/.tar archive, a .whl wheel, git:REF or git:/path/to/repo@REF"


def test_a_missing_source_is_named(releases: Path, tmp_path: Path):
    with pytest.raises(UserError) as caught:
        ingest("nope", releases, cwd=tmp_path)
    assert str(caught.value) == f"release source 'nope' does not exist in {tmp_path}; {VALID}"
    assert not releases.exists()


def test_an_unknown_file_type_is_named(releases: Path, tmp_path: Path):
    (tmp_path / "app.zip").write_bytes(b"PK")
    with pytest.raises(UserError) as caught:
        ingest("app.zip", releases, cwd=tmp_path)
    assert str(caught.value) == f"release source 'app.zip' is a file of unknown type; {VALID}"


def test_a_folder_named_like_an_archive_is_refused(releases: Path, tmp_path: Path):
    (tmp_path / "odd.tar").mkdir()
    with pytest.raises(UserError, match=r"release source 'odd.tar' is not a file; give a folder"):
        ingest("odd.tar", releases, cwd=tmp_path)


def test_a_special_file_in_the_folder_is_refused(app: Path, releases: Path, tmp_path: Path):
    os.mkfifo(app / "pipe")
    with pytest.raises(UserError, match=r"app/pipe is a special file \(a device, FIFO or socket\)"):
        ingest("app", releases, cwd=tmp_path)
    assert list(releases.iterdir()) == []


def test_releases_may_live_under_the_source_only_in_dot_turnout(app: Path, tmp_path: Path):
    got = ingest(".", app / ".turnout" / "releases", cwd=app)
    assert got.digest == digest_tree(app)
    with pytest.raises(UserError, match=r"contains the releases folder .*under its .turnout/"):
        ingest(".", app / "build" / "releases", cwd=app)


def test_a_relative_releases_dir_gives_absolute_paths(
    app: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    got = ingest("app", Path("releases"), cwd=tmp_path)
    assert got.path == tmp_path / "releases" / got.digest


def test_source_kinds():
    assert [
        source_kind(s)
        for s in ("git:main", "a.tar.gz", "a.tgz", "a.tar", "x.whl", "build", "a.zip")
    ] == ["git", "tar", "tar", "tar", "wheel", "folder", "folder"]


# --- prune --------------------------------------------------------------------------------


def test_prune_removes_the_releases_not_kept(app: Path, releases: Path, tmp_path: Path):
    v1 = ingest("app", releases, cwd=tmp_path)
    (app / "app.py").write_text("v2")
    v2 = ingest("app", releases, cwd=tmp_path)
    (app / "app.py").write_text("v3")
    v3 = ingest("app", releases, cwd=tmp_path)
    (releases / "notes.txt").write_text("not a release")
    (releases / ".ingest-crashed").mkdir()

    assert prune(releases, {v2.digest}) == sorted([v1.digest, v3.digest])
    assert sorted(p.name for p in releases.iterdir()) == sorted(
        [".ingest-crashed", "notes.txt", v2.digest]
    )
    assert digest_tree(v2.path) == v2.digest
    assert prune(releases, {v2.digest}) == []


def test_prune_refuses_what_is_not_a_digest(app: Path, releases: Path, tmp_path: Path):
    kept = ingest("app", releases, cwd=tmp_path)
    with pytest.raises(UserError) as caught:
        prune(releases, {kept.digest[:12]})
    assert str(caught.value) == (
        f"cannot prune with {kept.digest[:12]!r} kept: it is not a release digest; keep full "
        "digests (64 hex digits) as ingest returns them"
    )
    assert kept.path.is_dir()


def test_prune_of_a_missing_folder_removes_nothing(tmp_path: Path):
    assert prune(tmp_path / "none", set()) == []
