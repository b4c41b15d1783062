"""Which archive members are safe, with plain values."""

from __future__ import annotations

import pytest

from turnout.releases.archives import Member, archive_problem, member_problem


@pytest.mark.parametrize(
    "member",
    [
        Member("app.py", "file"),
        Member("./app.py", "file"),
        Member("./", "folder"),
        Member("sub/deep/", "folder"),
        Member("current", "symlink", "sub/data.txt"),
        Member("sub/up", "symlink", "../app.py"),
        Member("sub/self", "symlink", "."),
        Member("sub/twice", "symlink", "./../sub/../app.py"),
        Member("copy", "hardlink", "sub/data.txt"),
    ],
    ids=lambda m: f"{m.kind}:{m.name}->{m.linkname}",
)
def test_safe_members(member: Member):
    assert member_problem(member) is None


@pytest.mark.parametrize(
    ("member", "problem"),
    [
        (Member("/etc/passwd", "file"), "has an absolute path"),
        (Member("../escape", "file"), "climbs out of the archive with '..'"),
        (Member("sub/../../escape", "folder"), "climbs out of the archive with '..'"),
        (Member("dev/sda", "device"), "is a device file"),
        (Member("pipe", "fifo"), "is a FIFO"),
        (Member("odd", "other"), "is a special file"),
        (Member("./", "symlink", "/"), "replaces the archive's root folder"),
        (Member("etc", "symlink", "/etc"), "links to the absolute path '/etc'"),
        (Member("up", "symlink", ".."), "links to '..', outside the archive"),
        (Member("sub/up", "symlink", "../../x"), "links to '../../x', outside the archive"),
        (
            Member("sub/x", "symlink", "a/../../../x"),
            "links to 'a/../../../x', outside the archive",
        ),
        (Member("h", "hardlink", "/etc/shadow"), "links to the absolute path '/etc/shadow'"),
        (Member("h", "hardlink", "../shadow"), "links to '../shadow', outside the archive"),
    ],
)
def test_unsafe_members(member: Member, problem: str):
    assert member_problem(member) == problem


def test_a_member_below_a_symlink_is_refused():
    members = [Member("sub", "symlink", "."), Member("sub/x", "file")]
    assert archive_problem(members) == ("sub/x", "lies below the symlink 'sub'")


def test_a_link_through_another_symlink_is_refused():
    # Lexically "dot/../x" stays inside, but dot -> "." makes it "../x".
    members = [Member("dot", "symlink", "."), Member("evil", "symlink", "dot/../x")]
    assert archive_problem(members) == ("evil", "links to 'dot/../x' through the symlink 'dot'")


def test_a_hard_link_to_no_file_of_the_archive_is_refused():
    members = [Member("d/", "folder"), Member("h", "hardlink", "d")]
    assert archive_problem(members) == (
        "h",
        "is a hard link to 'd', which is no file of the archive",
    )
    assert archive_problem([Member("f", "file"), Member("h", "hardlink", "./f")]) is None


def test_the_first_unsafe_member_is_named():
    members = [Member("ok", "file"), Member("/abs", "file"), Member("../up", "file")]
    assert archive_problem(members) == ("/abs", "has an absolute path")
