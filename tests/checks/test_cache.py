"""The content-hash cache: keys, JSON entries and assembly trees."""

from __future__ import annotations

from pathlib import Path

from checks.cache import Cache, assembly_files, default_cache_dir, digest, files_digest, source_files


def test_default_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("STACKGRADE_CACHE_DIR", str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("STACKGRADE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "stackgrade"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "stackgrade"


def test_digest_is_stable_and_sensitive():
    assert digest("a", {"x": 1, "y": 2}) == digest("a", {"y": 2, "x": 1})
    assert digest("a", 1) != digest("a", 2)


def test_source_files_skip_outputs_environments_and_bytecode(tmp_path):
    for name in ("app.py", "stacks/queue.py", "cdk.out/manifest.json", ".venv/bin/python", "build/x",
                 "stacks/__pycache__/queue.cpython-311.pyc", ".git/HEAD", "node_modules/a.js"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    assert sorted(str(p.relative_to(tmp_path)) for p in source_files(tmp_path)) == ["app.py", "stacks/queue.py"]
    before = files_digest(source_files(tmp_path), tmp_path)
    (tmp_path / "stacks" / "queue.py").write_text("changed")
    assert files_digest(source_files(tmp_path), tmp_path) != before
    (tmp_path / "cdk.out" / "manifest.json").write_text("outputs do not count")
    assert files_digest(source_files(tmp_path), tmp_path) == files_digest(source_files(tmp_path), tmp_path)


def test_assembly_files_are_the_json_outside_asset_folders(tmp_path):
    for name in ("manifest.json", "Shop.template.json", "asset.abc/index.json", "asset.abc/handler.py",
                 "assembly-Stage/manifest.json"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}")
    assert sorted(str(p.relative_to(tmp_path)) for p in assembly_files(tmp_path)) == [
        "Shop.template.json", "assembly-Stage/manifest.json", "manifest.json"]


def test_json_entries_round_trip_and_torn_files_are_misses(tmp_path):
    cache = Cache(tmp_path / "cache")
    assert cache.get_json("engine", "k" * 64) is None
    cache.put_json("engine", "k" * 64, {"findings": [1, 2]})
    assert cache.get_json("engine", "k" * 64) == {"findings": [1, 2]}
    path = next((tmp_path / "cache" / "engine").rglob("*.json"))
    path.write_text("{torn")
    assert cache.get_json("engine", "k" * 64) is None


def test_trees_are_stored_once_and_restored_over_old_output(tmp_path):
    source = tmp_path / "cdk.out"
    (source / "asset.1").mkdir(parents=True)
    (source / "manifest.json").write_text("{}")
    (source / "asset.1" / "index.py").write_text("print()")
    cache = Cache(tmp_path / "cache")
    destination = tmp_path / "restored"
    assert not cache.get_tree("assembly", "a" * 64, destination)
    cache.put_tree("assembly", "a" * 64, source)
    (source / "manifest.json").write_text("changed later")
    cache.put_tree("assembly", "a" * 64, source)  # already complete: kept as first stored
    destination.mkdir()
    (destination / "stale.json").write_text("old")
    assert cache.get_tree("assembly", "a" * 64, destination)
    assert sorted(str(p.relative_to(destination)) for p in destination.rglob("*") if p.is_file()) == [
        "asset.1/index.py", "manifest.json"]
    assert (destination / "manifest.json").read_text() == "{}"


def test_an_incomplete_tree_is_replaced(tmp_path):
    cache = Cache(tmp_path / "cache")
    source = tmp_path / "src"
    source.mkdir()
    (source / "manifest.json").write_text("{}")
    half = cache._path("assembly", "b" * 64)
    half.mkdir(parents=True)
    (half / "partial").write_text("interrupted copy, no .complete marker")
    cache.put_tree("assembly", "b" * 64, source)
    assert sorted(p.name for p in half.iterdir()) == [".complete", "manifest.json"]
