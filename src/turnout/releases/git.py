"""A git commit as a release: ``git archive`` of the commit a ref names.

``git:REF`` takes the repository the command runs in; ``git:/path/to/repo@REF``
(or a relative ``./path@REF``) names one, split at the last ``@``. The export
honours ``export-ignore`` attributes and holds no ``.git``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import IO

from turnout.errors import SystemFault, UserError

__all__ = ["PREFIX", "export_commit", "parse_git_source"]

PREFIX = "git:"
_PATH_STARTS = ("/", ".", "~")  # a git ref never starts with these (git check-ref-format)
_GIT_TIMEOUT_S = 600.0


def parse_git_source(source: str) -> tuple[str | None, str]:
    """``(repository or None for the current one, ref)`` of a ``git:`` source."""
    text = source.removeprefix(PREFIX)
    repo: str | None = None
    ref = text
    if text.startswith(_PATH_STARTS):
        repo, at, ref = text.rpartition("@")
        if not at or not repo:
            raise UserError(
                f"release source {source!r} names a repository but no ref; write "
                "git:/path/to/repo@REF, such as git:/srv/shop@main"
            )
    if not ref or ref.startswith("-") or any(c.isspace() for c in ref):
        raise UserError(
            f"release source {source!r}: {ref!r} is not a git ref; give a branch, tag or "
            "commit, such as git:main or git:/srv/shop@v1.2"
        )
    return repo, ref


def export_commit(source: str, cwd: Path, archive: Path) -> str:
    """Write the tar of the commit ``source`` names to ``archive``; the commit id."""
    repo_text, ref = parse_git_source(source)
    repo = cwd if repo_text is None else cwd / Path(repo_text).expanduser()
    git = shutil.which("git")
    if git is None:
        raise SystemFault("git is not installed; install it to deploy git:REF sources")
    found = _git(git, repo, "rev-parse", "--git-dir") if repo.is_dir() else None
    if found is None or found.returncode != 0:
        why = f" ({_first_line(found.stderr)})" if found is not None else ""
        raise UserError(
            f"release source {source!r}: {repo} is not a git repository{why}; give git:REF "
            "inside a repository, or git:/path/to/repo@REF"
        )
    resolved = _git(git, repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if resolved.returncode != 0:
        raise UserError(
            f"release source {source!r}: {ref!r} is not a commit of {repo}; give a branch, "
            "tag or commit id of that repository"
        )
    commit = resolved.stdout.strip()
    with archive.open("wb") as out:
        exported = _run([git, "-C", str(repo), "archive", "--format=tar", commit], stdout=out)
    if exported.returncode != 0:
        raise SystemFault(f"git archive {commit} in {repo} failed: {_first_line(exported.stderr)}")
    return commit


def _git(git: str, repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return _run([git, "-C", str(repo), *args], stdout=subprocess.PIPE)


def _run(command: list[str], stdout: IO[bytes] | int) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            command,
            check=False,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            env=_environment(),
            timeout=_GIT_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise SystemFault(f"{' '.join(command)} took more than {_GIT_TIMEOUT_S:g} s") from None


def _environment() -> dict[str, str]:
    # Never prompt, and keep messages in English so the errors above read as one sentence.
    return {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "no message"
