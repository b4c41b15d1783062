"""A wheel as a release: installed with pip into ``<release>/site``.

``python -m pip install --no-deps --target <release>/site <wheel>`` (isolated from
pip's environment variables and config, offline, without byte-compiling: the
release holds exactly what its digest covers). The app then needs
``PYTHONPATH=<release>/site``. Dependencies are not installed: the wheel's
environment must already have them (or ship them vendored).

pip records where the wheel came from in ``*.dist-info/direct_url.json`` (PEP 610);
that file is removed, with its RECORD line, so the same wheel gives the same digest
wherever it was read from.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from turnout.errors import SystemFault, UserError

__all__ = ["SITE", "install_wheel", "record_without"]

SITE = "site"  # the folder of the release that goes on PYTHONPATH
_DIRECT_URL = "direct_url.json"
_PIP_TIMEOUT_S = 600.0


def record_without(record: str, path: str) -> str:
    """A dist-info RECORD (CSV lines ``path,hash,size``) without the line for ``path``."""
    lines = record.splitlines(keepends=True)
    return "".join(line for line in lines if line.split(",", 1)[0] != path)


def install_wheel(wheel: Path, dest: Path, source: str) -> None:
    """Install ``wheel`` into ``dest/site`` (``dest`` is created)."""
    if not zipfile.is_zipfile(wheel):
        raise UserError(
            f"release source {source!r} is not a wheel (not a zip archive); give a .whl "
            "built by pip wheel or python -m build"
        )
    dest.mkdir()
    command = [
        *(sys.executable, "-m", "pip", "install", "--isolated", "--no-deps", "--no-index"),
        *("--no-compile", "--disable-pip-version-check", "--no-input", "--quiet"),
        *("--target", str(dest / SITE), str(wheel)),
    ]
    try:
        done = subprocess.run(
            command, check=False, capture_output=True, text=True, timeout=_PIP_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        raise SystemFault(f"pip did not install {wheel} in {_PIP_TIMEOUT_S:g} s") from None
    if done.returncode != 0:
        reason = _last_line(done.stderr) or f"exit status {done.returncode}"
        if "No module named pip" in done.stderr:
            raise SystemFault(f"{sys.executable} has no pip to install wheels with ({reason})")
        raise UserError(
            f"release source {source!r}: pip could not install the wheel ({reason}); give a "
            f"wheel for Python {sys.version_info.major}.{sys.version_info.minor} named like "
            "app-1.0-py3-none-any.whl"
        )
    _forget_origin(dest / SITE)


def _forget_origin(site: Path) -> None:
    for info in site.glob("*.dist-info"):
        direct_url = info / _DIRECT_URL
        if direct_url.exists():
            direct_url.unlink()
            record = info / "RECORD"
            if record.exists():
                entry = f"{info.name}/{_DIRECT_URL}"
                record.write_text(record_without(record.read_text(), entry))


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""
