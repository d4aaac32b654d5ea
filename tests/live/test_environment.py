"""The embedded LocalStack's Python 3.13 environment: found, built from the lock, reused, rebuilt on change.

Builds are marked ``live`` (they install the locked packages: about 5 to 10 s with uv's cache warm,
17 s with it empty); finding interpreters and tools, keys and pruning need nothing installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import checks.live.environment as environment
from checks.live import EnvironmentBuildError
from checks.live.environment import (
    LOCALSTACK_VERSION,
    MARKER,
    environment_key,
    ensure_environment,
    find_python313,
    find_uv,
    plugin_sources,
    prepare_environment,
    prune,
    python_version,
    run,
)


def fake_tool(directory: Path, name: str, script: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def sources(tmp_path, monkeypatch):
    """A copy of the lock file and plugins the module uses instead of the repository's."""
    lock = tmp_path / "localstack.lock"
    shutil.copyfile(environment.LOCK_FILE, lock)
    plugins = tmp_path / "plugins"
    shutil.copytree(environment.PLUGINS_DIR, plugins, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(environment, "HERE", tmp_path)
    monkeypatch.setattr(environment, "LOCK_FILE", lock)
    monkeypatch.setattr(environment, "PLUGINS_DIR", plugins)
    return lock, plugins


@pytest.fixture
def no_python_found(tmp_path, monkeypatch):
    """PATH with nothing on it, and an empty pyenv: no interpreter and no uv to find."""
    monkeypatch.delenv(environment.PYTHON_ENV_VAR, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))


# Nothing installed


def test_the_key_follows_the_lock_and_the_plugin_sources_only(sources):
    lock, plugins = sources
    key = environment_key()
    (plugins / "build" / "lib").mkdir(parents=True)  # build output does not count
    (plugins / "build" / "lib" / "x.py").write_text("x = 1\n")
    (plugins / "stackgrade_localstack" / "__pycache__").mkdir(exist_ok=True)
    assert environment_key() == key
    assert {p.name for p in plugin_sources()} >= {"pyproject.toml", "executor.py", "bootstrap.py", "dynamodb.py"}

    (plugins / "stackgrade_localstack" / "executor.py").write_text("# changed\n", encoding="utf-8")
    changed_plugin = environment_key()
    lock.write_text(lock.read_text() + "# a comment\n")
    assert len({key, changed_plugin, environment_key()}) == 3


def test_python_version_of_interpreters(tmp_path):
    assert python_version(sys.executable) == f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert python_version(tmp_path / "missing") is None
    assert python_version(fake_tool(tmp_path, "failing", "exit 3")) is None


def test_the_variable_names_the_interpreter(tmp_path, monkeypatch):
    good = fake_tool(tmp_path, "py313", "echo 3.13")
    monkeypatch.setenv(environment.PYTHON_ENV_VAR, str(good))
    assert find_python313() == good
    monkeypatch.setenv(environment.PYTHON_ENV_VAR, str(fake_tool(tmp_path, "py312", "echo 3.12")))
    with pytest.raises(EnvironmentBuildError, match="STACKGRADE_PYTHON313=.*py312 is not a working Python 3.13"):
        find_python313()


def test_uv_then_pyenv_then_path(tmp_path, monkeypatch, no_python_found):
    bin_dir = tmp_path / "bin"
    monkeypatch.setenv("PATH", str(bin_dir))
    on_path = fake_tool(bin_dir, "python3.13", "echo 3.13")
    assert find_python313() == on_path

    pyenv = fake_tool(tmp_path / "pyenv" / "versions" / "3.13.5" / "bin", "python3.13", "echo 3.13")
    fake_tool(tmp_path / "pyenv" / "versions" / "3.13.9" / "bin", "python3.13", "exit 1")  # broken: skipped
    assert find_python313() == pyenv

    managed = fake_tool(tmp_path / "uv-python", "python3.13", "echo 3.13")
    fake_tool(bin_dir, "uv", f'[ "$1 $2 $3" = "python find 3.13" ] && echo {managed}')
    assert find_python313() == managed
    assert find_uv() == str(bin_dir / "uv")


def test_no_python_313_says_how_to_get_one(no_python_found):
    with pytest.raises(EnvironmentBuildError, match="uv python install 3.13.*STACKGRADE_PYTHON313.*--endpoint"):
        find_python313()


def test_no_uv_says_how_to_get_it(no_python_found):
    with pytest.raises(EnvironmentBuildError, match="needs uv on PATH: `pip install uv`"):
        find_uv()


def test_a_failing_step_names_itself_and_shows_the_tools_words(tmp_path):
    script = fake_tool(tmp_path, "tool", "echo first >&2; echo 'error: no such package' >&2; exit 4")
    with pytest.raises(EnvironmentBuildError, match="(?s)Installing things failed \\(exit 4\\):\nfirst\nerror: no"):
        run([str(script)], "Installing things")


def test_prune_removes_what_nobody_used_for_a_day(tmp_path):
    old = time.time() - environment.STALE_SECONDS - 60
    keep = tmp_path / f"{LOCALSTACK_VERSION}-{'a' * 16}"
    stale = tmp_path / f"{LOCALSTACK_VERSION}-{'b' * 16}"
    recent = tmp_path / f"{LOCALSTACK_VERSION}-{'c' * 16}"
    abandoned = tmp_path / ".building-x1"
    building = tmp_path / ".building-x2"
    shared = tmp_path / "packages"
    for folder in (keep, stale, recent, abandoned, building, shared):
        folder.mkdir()
    for folder in (keep, stale, recent):
        (folder / MARKER).write_text("{}")
    for path in (keep / MARKER, stale / MARKER, abandoned, shared):
        os.utime(path, (old, old))

    prune(tmp_path, keep=keep)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in (keep, recent, building, shared))


# Building (installs the locked packages)


@pytest.mark.live
def test_the_warm_path_reuses_the_environment(localstack):
    # The session's LocalStack made sure it exists; now only a check that the folder is complete.
    prepared = prepare_environment()
    assert not prepared.built and prepared.seconds < 1
    assert prepared.python == ensure_environment() and (prepared.root / MARKER).is_file()
    print(f"\nLocalStack environment, warm: {prepared.seconds * 1000:.1f} ms")


@pytest.mark.live
def test_a_changed_lock_builds_a_new_environment(sources, tmp_path):
    lock, plugins = sources
    cache = tmp_path / "cache"
    lines: list[str] = []
    first = prepare_environment(lines.append, cache_dir=cache)
    assert first.built and first.root.name == f"{LOCALSTACK_VERSION}-{first.key[:16]}"
    assert any("Installing localstack-core 4.14.0" in line for line in lines)
    print(f"\nLocalStack environment built in {first.seconds:.1f} s (uv's cache warm)")
    assert not prepare_environment(cache_dir=cache).built

    lock.write_text(lock.read_text() + "# changed\n")
    second = prepare_environment(cache_dir=cache)
    assert second.built and second.root != first.root and second.key != first.key
    assert first.root.exists()  # the old one stays until nobody used it for a day

    entry_points = subprocess.run(
        [str(second.python), "-c", "from importlib.metadata import entry_points as e; "
         "print(sorted(p.name for g in ('localstack.aws.provider', 'localstack.lambda.runtime_executor') "
         "for p in e(group=g) if p.value.startswith('stackgrade')))"],
        capture_output=True, text=True, check=True).stdout
    assert entry_points.strip() == "['dynamodb:moto', 'dynamodbstreams:moto', 'stackgrade']"
    assert sorted(p.name for p in plugins.iterdir()) == ["pyproject.toml", "stackgrade_localstack"]  # built elsewhere
    assert not list(cache.glob("localstack/.building-*"))


@pytest.mark.live
def test_a_tampered_lock_is_refused_and_leaves_no_environment(sources, tmp_path):
    lock, _ = sources
    text = lock.read_text()
    start = text.index("six==")
    end = text.index("# via", start)
    six = re.sub("sha256:[0-9a-f]{64}", "sha256:" + "0" * 64, text[start:end])  # every file of it
    lock.write_text(text[:start] + six + text[end:])
    cache = tmp_path / "cache"
    with pytest.raises(EnvironmentBuildError, match="(?s)Installing localstack.lock failed.*six"):
        prepare_environment(cache_dir=cache)
    assert [p.name for p in (cache / "localstack").iterdir()] == [".build.lock"]
