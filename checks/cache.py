"""Results cached by content hash: synthesized assemblies and engine results, keyed by what produced them.

A key is the SHA-256 of everything an output depends on (source files' bytes,
tool versions, options), so a hit is always valid and nothing ever needs
invalidating; stale entries are simply never asked for again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterable

# Folders that never hold an app's sources: outputs, environments, caches, VCS data.
IGNORED_DIRS = frozenset(
    {"cdk.out", "build", "node_modules", ".venv", "venv", ".nox", ".tox", ".git", "__pycache__", ".pytest_cache",
     ".mypy_cache", ".ruff_cache", "stackgrade-report"}
)
CACHE_VERSION = "1"


def default_cache_dir() -> Path:
    """``$STACKGRADE_CACHE_DIR``, else ``$XDG_CACHE_HOME/stackgrade``, else ``~/.cache/stackgrade``."""
    if os.environ.get("STACKGRADE_CACHE_DIR"):
        return Path(os.environ["STACKGRADE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "stackgrade"


def digest(*parts: Any) -> str:
    """A stable hash of JSON-serializable parts."""
    text = json.dumps([CACHE_VERSION, *parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def files_digest(files: Iterable[Path], root: Path) -> str:
    """Hash of the files' paths (relative to ``root``) and bytes, in a stable order."""
    sha = hashlib.sha256()
    for path in sorted(files):
        sha.update(str(path.relative_to(root)).encode() + b"\0")
        sha.update(hashlib.sha256(path.read_bytes()).digest())
    return sha.hexdigest()


def source_files(root: Path, ignore: frozenset[str] = IGNORED_DIRS) -> list[Path]:
    """Every file under ``root`` except in output, environment and hidden folders, and compiled bytecode."""
    found = []
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in ignore and not d.startswith(".")]
        found.extend(Path(directory) / f for f in filenames if not f.endswith((".pyc", ".pyo")))
    return found


def assembly_files(assembly: Path) -> list[Path]:
    """The files engines read: manifests, templates and records, not the (large) asset folders."""
    found = []
    for directory, dirnames, filenames in os.walk(assembly):
        dirnames[:] = [d for d in dirnames if not d.startswith("asset.")]
        found.extend(Path(directory) / f for f in filenames if f.endswith(".json"))
    return found


class Cache:
    """A directory of JSON results and assembly trees, each under its key."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, kind: str, key: str) -> Path:
        return self.root / kind / key[:2] / key

    def get_json(self, kind: str, key: str) -> Any | None:
        path = self._path(kind, key).with_suffix(".json")
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # absent or torn: recompute

    def put_json(self, kind: str, key: str, data: Any) -> None:
        path = self._path(kind, key).with_suffix(".json")
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp", encoding="utf-8") as tmp:
            json.dump(data, tmp)
        os.replace(tmp.name, path)  # atomic: a concurrent reader sees the old file or the new one

    def has_tree(self, kind: str, key: str) -> bool:
        return (self._path(kind, key) / ".complete").is_file()

    def get_tree(self, kind: str, key: str, destination: Path) -> bool:
        """Copy the cached tree to ``destination`` (replacing it); False on a miss."""
        source = self._path(kind, key)
        if not self.has_tree(kind, key):
            return False
        if destination.exists():
            shutil.rmtree(destination)
        shutil.copytree(source, destination, ignore=shutil.ignore_patterns(".complete"))
        return True

    def put_tree(self, kind: str, key: str, source: Path) -> None:
        target = self._path(kind, key)
        if (target / ".complete").is_file():
            return
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=self.root, prefix=".staging-"))
        try:
            shutil.copytree(source, staging / "tree")
            (staging / "tree" / ".complete").write_text("")
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                shutil.rmtree(target)
            os.replace(staging / "tree", target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
