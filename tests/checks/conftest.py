"""Fixtures for the tests of the assembly model, relations, config and finding."""

from __future__ import annotations

from pathlib import Path

import pytest

from checks.assembly import Assembly


@pytest.fixture
def load_yaml(tmp_path):
    """``load_yaml(text, name="stack")`` -> the Assembly of that YAML template, written to tmp_path."""

    def load(text: str, name: str = "stack") -> Assembly:
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        return Assembly.load(path)

    return load


@pytest.fixture(scope="session")
def pattern_assembly_dir(reference_stack) -> Path:
    """The synthesized cloud assembly of pattern_detection ideal: a top-level stack and five nested stacks."""
    return Path(reference_stack("pattern_detection", "ideal").node.root.synth().directory)


@pytest.fixture(scope="session")
def pattern_assembly(pattern_assembly_dir) -> Assembly:
    return Assembly.load(pattern_assembly_dir)
