"""Building release sources in tests: folders, tar archives member by member, wheels
and git repositories."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import subprocess
import tarfile
import zipfile
from pathlib import Path


def make_tree(root: Path) -> Path:
    """A small release folder: a file, an executable, a nested file, a symlink, an empty folder."""
    (root / "sub").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "app.py").write_text("print('shop')\n")
    (root / "run.sh").write_text("#!/bin/sh\nexec python app.py\n")
    (root / "run.sh").chmod(0o755)
    (root / "sub" / "data.txt").write_bytes(b"\x00\x01 binary\n")
    (root / "current").symlink_to("sub/data.txt")
    return root


def tar_of_folder(folder: Path, archive: Path) -> Path:
    """``tar -czf archive -C folder .`` with Python's tarfile (mode by the suffix)."""
    mode = "w:gz" if archive.name.endswith((".tar.gz", ".tgz")) else "w"
    with tarfile.open(archive, mode) as tar:
        tar.add(folder, arcname=".")
    return archive


def tar_member(
    name: str, type_: bytes = tarfile.REGTYPE, data: bytes = b"", linkname: str = ""
) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = type_
    info.linkname = linkname
    info.size = len(data) if type_ == tarfile.REGTYPE else 0
    info.mode = 0o755 if type_ == tarfile.DIRTYPE else 0o644
    return info, data


def write_tar(archive: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    with tarfile.open(archive, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return archive


def build_wheel(folder: Path, name: str = "tiny", version: str = "1.0") -> Path:
    """A minimal pure-Python wheel: ``tiny/__init__.py`` with ``VALUE = 42``."""
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": b"VALUE = 42\n",
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{path},sha256={_b64sha(data)},{len(data)}\n" for path, data in files.items())
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
        archive.writestr(f"{dist_info}/RECORD", record + f"{dist_info}/RECORD,,\n")
    return wheel


def _b64sha(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
}


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
        check=True,
    )
    return done.stdout.strip()
