"""Python environments and synthesized fixture apps shared by the synthesis and cdk-nag engine tests.

The environments are real venvs under ``build/test-envs/``, built once and reused:
``cdk-nag-2`` has cdk-nag 2.38.2 installed in the venv itself, shadowing the project's
cdk-nag 3 reached through a ``.pth`` file; ``no-cdk-nag`` reaches a copy of the
project's site-packages (symlinks) that leaves cdk-nag out.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import tempfile
from functools import cache
from pathlib import Path

from checks.synthesis import Synthesized, synthesize_app

PROJECT_ROOT = Path(__file__).resolve().parents[3]
APPS = PROJECT_ROOT / "tests" / "fixtures" / "apps"
ENVS = PROJECT_ROOT / "build" / "test-envs"
SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"])
NAG2_VERSION = "2.38.2"


def _venv(path: Path) -> Path:
    """A venv of this interpreter's Python (its site-packages layout matches ours)."""
    python = path / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return python


def _site_packages(python: Path) -> Path:
    out = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         check=True, capture_output=True, text=True).stdout.strip()
    return Path(out)


@cache
def nag2_python() -> str:
    """A Python whose environment has cdk-nag 2 (and the project's aws-cdk-lib, jsii, constructs)."""
    path = ENVS / "cdk-nag-2"
    python = _venv(path)
    packages = _site_packages(python)
    (packages / "_stackgrade_parent.pth").write_text(f"{SITE_PACKAGES}\n")
    if not list(packages.glob(f"cdk_nag-{NAG2_VERSION}.dist-info")):
        uv = shutil.which("uv")
        command = ([uv, "pip", "install", "--python", str(python)] if uv
                   else [sys.executable, "-m", "pip", "install", "--target", str(packages)])
        subprocess.run([*command, "--no-deps", f"cdk-nag=={NAG2_VERSION}"], check=True, capture_output=True)
    return str(python)


@cache
def no_nag_python() -> str:
    """A Python with the project's packages except cdk-nag (symlinked, so nothing is copied)."""
    path = ENVS / "no-cdk-nag"
    python = _venv(path)
    mirror = path / "mirror"
    if not mirror.exists():
        partial = path / "mirror.partial"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        for entry in SITE_PACKAGES.iterdir():
            if not entry.name.lower().startswith(("cdk_nag", "cdk-nag")) and entry.suffix != ".pth":
                (partial / entry.name).symlink_to(entry)
        partial.rename(mirror)
    (_site_packages(python) / "_stackgrade_mirror.pth").write_text(f"{mirror}\n")
    return str(python)


@cache
def synthesized(app: str, python: str | None = None) -> Synthesized:
    """The fixture app ``app`` synthesized once per test session (with the project's Python by default)."""
    outdir = Path(tempfile.mkdtemp(prefix=f"stackgrade-{app}-")) / "cdk.out"
    return synthesize_app(APPS / app, outdir, python=python or sys.executable)


def line_of(path: Path, text: str) -> int:
    """The 1-based line of the first line of ``path`` containing ``text``."""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {path}")


__all__ = ["APPS", "PROJECT_ROOT", "line_of", "nag2_python", "no_nag_python", "synthesized"]
