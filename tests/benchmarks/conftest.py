"""Benchmark figures are collected during the run and printed together at the end."""

from __future__ import annotations

import pytest

_FIGURES = pytest.StashKey[list[str]]()


@pytest.fixture
def bench_report(request: pytest.FixtureRequest):
    """``bench_report(text)`` records a figure for the end-of-run summary."""
    figures = request.config.stash.setdefault(_FIGURES, [])
    return figures.append


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    figures = config.stash.get(_FIGURES, [])
    if figures:
        terminalreporter.section("benchmarks")
        for line in figures:
            terminalreporter.line(line)
