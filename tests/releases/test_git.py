"""A git commit as a release: git archive of the commit a ref names."""

from __future__ import annotations

from pathlib import Path

import pytest

from releases.helpers import git, make_tree
from turnout.errors import UserError
from turnout.releases.artifacts import ingest
from turnout.releases.digest import digest_tree
from turnout.releases.git import parse_git_source


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with tag v1 on its first commit and a second commit on main."""
    root = make_tree(tmp_path / "repo")
    (root / "empty").rmdir()  # git keeps no empty folder
    git(root, "init", "-q", "-b", "main")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "v1")
    git(root, "tag", "v1")
    return root


def test_head_of_a_repository_is_the_same_release_as_its_work_tree(repo: Path, tmp_path: Path):
    got = ingest(f"git:{repo}@HEAD", tmp_path / "releases", cwd=tmp_path)
    assert got.kind == "git"
    assert got.commit == git(repo, "rev-parse", "HEAD")
    assert got.digest == digest_tree(repo)  # .git is not part of the digest
    assert (got.path / "run.sh").stat().st_mode & 0o100
    assert (got.path / "current").readlink() == Path("sub/data.txt")


def test_a_tag_a_branch_and_a_relative_repository(repo: Path, tmp_path: Path):
    (repo / "app.py").write_text("print('v2')\n")
    git(repo, "commit", "-q", "-am", "v2")
    releases = tmp_path / "releases"

    v1 = ingest("git:v1", releases, cwd=repo)  # the repository the command runs in
    main = ingest("git:./repo@main", releases, cwd=tmp_path)
    head = ingest(f"git:{repo}@HEAD", releases, cwd=tmp_path)

    assert v1.commit == git(repo, "rev-parse", "v1")
    assert main.digest == head.digest == digest_tree(repo) != v1.digest
    assert (v1.path / "app.py").read_text() == "print('shop')\n"


def test_an_unknown_ref_is_named(repo: Path, tmp_path: Path):
    with pytest.raises(UserError) as caught:
        ingest(f"git:{repo}@no-such-branch", tmp_path / "releases", cwd=tmp_path)
    assert str(caught.value) == (
        f"release source 'git:{repo}@no-such-branch': 'no-such-branch' is not a commit of "
        f"{repo}; give a branch, tag or commit id of that repository"
    )
    assert list((tmp_path / "releases").iterdir()) == []


def test_a_folder_that_is_no_repository_is_named(tmp_path: Path):
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(UserError) as caught:
        ingest("git:main", tmp_path / "releases", cwd=plain)
    message = str(caught.value)
    assert message.startswith(f"release source 'git:main': {plain} is not a git repository (")
    assert message.endswith("); give git:REF inside a repository, or git:/path/to/repo@REF")


def test_a_missing_repository_is_named(tmp_path: Path):
    with pytest.raises(UserError, match=r"/nowhere is not a git repository; give git:REF"):
        ingest(f"git:{tmp_path}/nowhere@main", tmp_path / "releases", cwd=tmp_path)


@pytest.mark.parametrize(
    ("source", "parsed"),
    [
        ("git:main", (None, "main")),
        ("git:feature/login", (None, "feature/login")),
        ("git:HEAD~2", (None, "HEAD~2")),
        ("git:/srv/shop@v1.2", ("/srv/shop", "v1.2")),
        ("git:./shop@main", ("./shop", "main")),
        ("git:~/work@shop@main", ("~/work@shop", "main")),  # split at the last @
    ],
)
def test_parse_git_sources(source: str, parsed: tuple[str | None, str]):
    assert parse_git_source(source) == parsed


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("git:/srv/shop", "names a repository but no ref; write git:/path/to/repo@REF"),
        ("git:/srv/shop@", "'' is not a git ref; give a branch, tag or commit"),
        ("git:", "'' is not a git ref"),
        ("git:--upload-pack=evil", "'--upload-pack=evil' is not a git ref"),
        ("git:main branch", "'main branch' is not a git ref"),
    ],
)
def test_bad_git_sources(source: str, message: str):
    with pytest.raises(UserError) as caught:
        parse_git_source(source)
    assert str(caught.value).startswith(f"release source {source!r}")
    assert message in str(caught.value)
