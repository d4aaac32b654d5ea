"""The embedded LocalStack's Python 3.13 environment, built from the lock file in this folder.

``localstack-core[runtime]==4.14.0`` (the last release that starts without an auth token) needs Python
3.13; stackgrade itself may run on an older Python, so LocalStack gets its own virtual environment:
the lock file installed with ``--require-hashes``, then the plugins in ``plugins/`` (``--no-deps``).
It lives under the stackgrade cache (``<cache>/localstack/<version>-<key>/``), keyed by the lock
file and the plugins' sources, so a change to either builds a new one and an unchanged one is reused
(warm: a check that the folder exists). A build happens in a temporary folder that is renamed into
place only when complete, so an interrupted build never looks finished.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from checks.cache import default_cache_dir, digest, files_digest
from checks.live import EnvironmentBuildError, Progress

LOCALSTACK_VERSION = "4.14.0"
PYTHON_VERSION = "3.13"
HERE = Path(__file__).resolve().parent
LOCK_FILE = HERE / "localstack.lock"
PLUGINS_DIR = HERE / "plugins"
PYTHON_ENV_VAR = "STACKGRADE_PYTHON313"
MARKER = "stackgrade-environment.json"
STALE_SECONDS = 24 * 3600  # other keys' environments (and abandoned builds) unused this long are removed
COMMAND_TIMEOUT = 900


@dataclass(frozen=True)
class LocalStackEnvironment:
    """A ready environment: its interpreter, and whether this call built it (and how long that took)."""

    python: Path
    root: Path
    key: str
    built: bool
    seconds: float


def plugin_sources() -> list[Path]:
    """The files of the plugins distribution that end up installed (not build output)."""
    package = PLUGINS_DIR / "stackgrade_localstack"
    return [PLUGINS_DIR / "pyproject.toml", *sorted(package.glob("*.py"))]


def environment_key() -> str:
    """Hash of what the environment is made of: the LocalStack version, the lock file, the plugins."""
    return digest(LOCALSTACK_VERSION, files_digest([LOCK_FILE], HERE), files_digest(plugin_sources(), PLUGINS_DIR))


def environments_dir(cache_dir: Path | None = None) -> Path:
    return Path(cache_dir or default_cache_dir()) / "localstack"


def environment_dir(cache_dir: Path | None = None) -> Path:
    return environments_dir(cache_dir) / f"{LOCALSTACK_VERSION}-{environment_key()[:16]}"


def venv_python(root: Path) -> Path:
    return root / "bin" / "python"


def python_version(python: str | Path) -> str | None:
    """``major.minor`` of an interpreter, None if it does not run."""
    try:
        done = subprocess.run([str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                              capture_output=True, text=True, timeout=30)
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def python_candidates() -> list[str]:
    """Where a Python 3.13 may be, best first: uv's managed or found ones, pyenv's, then PATH."""
    candidates = []
    uv = shutil.which("uv")
    if uv:
        done = subprocess.run([uv, "python", "find", PYTHON_VERSION], capture_output=True, text=True, timeout=60)
        if done.returncode == 0 and done.stdout.strip():
            candidates.append(done.stdout.strip())
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    candidates += [str(p) for p in sorted(pyenv_root.glob(f"versions/{PYTHON_VERSION}*/bin/python{PYTHON_VERSION}"),
                                          reverse=True)]
    on_path = shutil.which(f"python{PYTHON_VERSION}")
    if on_path:
        candidates.append(on_path)
    return candidates


def find_python313() -> Path:
    """A Python 3.13 interpreter: ``$STACKGRADE_PYTHON313`` if set, else the first candidate that runs."""
    chosen = os.environ.get(PYTHON_ENV_VAR)
    if chosen:
        if python_version(chosen) != PYTHON_VERSION:
            raise EnvironmentBuildError(f"{PYTHON_ENV_VAR}={chosen} is not a working Python {PYTHON_VERSION} "
                                        "interpreter; point it at one (e.g. the output of `uv python find 3.13`).")
        return Path(chosen)
    for candidate in python_candidates():
        if python_version(candidate) == PYTHON_VERSION:
            return Path(candidate)
    raise EnvironmentBuildError(
        f"The embedded LocalStack needs Python {PYTHON_VERSION} and none was found (uv, pyenv, PATH). Install one "
        f"with `uv python install {PYTHON_VERSION}` (or `pyenv install {PYTHON_VERSION}`), or set {PYTHON_ENV_VAR} "
        "to its interpreter; or use an existing LocalStack with --endpoint URL."
    )


def find_uv() -> str:
    """The uv binary, which builds the environment (fast, and honours hashes and the machine's index)."""
    uv = shutil.which("uv")
    if uv is None:
        raise EnvironmentBuildError("Building the embedded LocalStack's environment needs uv on PATH: "
                                    "`pip install uv` (requirements-tools.txt pins it).")
    return uv


def run(command: list[str], what: str) -> None:
    """Run a build step; a failure names the step and shows the tool's last words."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise EnvironmentBuildError(
            f"{what} failed (exit {done.returncode}):\n{tail}\nA first build downloads the locked packages, so it "
            "needs the package index (or uv's cache); or use an existing LocalStack with --endpoint URL."
        )


@contextlib.contextmanager
def build_lock(directory: Path):
    """One builder at a time per cache (others wait, then find the environment built)."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".build.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def copy_plugins(destination: Path) -> Path:
    """The plugins' sources, copied so that building them writes nothing into the repository."""
    for source in plugin_sources():
        target = destination / source.relative_to(PLUGINS_DIR)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return destination


def build(root: Path, key: str, progress: Progress) -> None:
    """Create the environment at ``root`` (which must not exist) through a temporary folder beside it."""
    python313 = find_python313()
    uv = find_uv()
    staging = Path(tempfile.mkdtemp(dir=root.parent, prefix=".building-"))
    try:
        venv = staging / "venv"
        progress(f"Creating the embedded LocalStack's environment (Python {PYTHON_VERSION} from {python313})")
        run([uv, "venv", "--quiet", "--relocatable", "--python", str(python313), str(venv)], "Creating the venv")
        progress(f"Installing localstack-core {LOCALSTACK_VERSION} from {LOCK_FILE.name} (hashes checked)")
        run([uv, "pip", "install", "--quiet", "--python", str(venv_python(venv)), "--require-hashes",
             "-r", str(LOCK_FILE)], f"Installing {LOCK_FILE.name}")
        progress("Installing stackgrade's LocalStack plugins (DynamoDB via moto, local Lambda executor)")
        sources = copy_plugins(staging / "plugins")
        run([uv, "pip", "install", "--quiet", "--python", str(venv_python(venv)), "--no-deps",
             "--no-build-isolation", str(sources)], "Installing the plugins")
        (venv / MARKER).write_text(json.dumps({"key": key, "localstack": LOCALSTACK_VERSION,
                                               "python": str(python313), "built": time.time()}))
        os.replace(venv, root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def prune(directory: Path, keep: Path) -> None:
    """Remove other keys' environments and abandoned builds that nobody used for a day."""
    cutoff = time.time() - STALE_SECONDS
    for entry in directory.iterdir():
        stale_env = re.fullmatch(r"\d+\.\d+\.\d+-[0-9a-f]{16}", entry.name) and entry != keep
        stamp = entry / MARKER if (entry / MARKER).exists() else entry
        if (stale_env or entry.name.startswith(".building-")) and stamp.stat().st_mtime < cutoff:
            shutil.rmtree(entry, ignore_errors=True)


def prepare_environment(progress: Progress | None = None, cache_dir: Path | None = None) -> LocalStackEnvironment:
    """The environment for the current lock and plugins, built if missing (cold) or reused (warm)."""
    progress = progress or (lambda _message: None)
    started = time.perf_counter()
    key = environment_key()
    root = environment_dir(cache_dir)
    built = False
    if not (root / MARKER).is_file():
        with build_lock(root.parent):
            if not (root / MARKER).is_file():  # another process may have built it while we waited
                shutil.rmtree(root, ignore_errors=True)  # a folder without its marker is not ours to trust
                build(root, key, progress)
                built = True
    (root / MARKER).touch()  # last used: keeps it from being pruned
    prune(root.parent, keep=root)
    seconds = time.perf_counter() - started
    if built:
        progress(f"Embedded LocalStack environment ready in {seconds:.1f} s")
    return LocalStackEnvironment(venv_python(root), root, key, built, seconds)


def ensure_environment(progress: Progress | None = None, cache_dir: Path | None = None) -> Path:
    """The embedded LocalStack environment's Python interpreter, creating or updating the environment first."""
    return prepare_environment(progress, cache_dir).python
