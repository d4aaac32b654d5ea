"""Fixtures of the rule tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def ideal_dir(reference_stack):
    """``ideal_dir(system)`` -> the synthesized ideal assembly's directory (once per session)."""
    cache: dict[str, Path] = {}

    def directory(system: str) -> Path:
        if system not in cache:
            cache[system] = Path(reference_stack(system, "ideal").node.root.synth().directory)
        return cache[system]

    return directory
