"""Engines that fail on purpose, each the way a real tool can fail; imported by the spawned worker processes."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import ClassVar

from checks.engines import EngineFailure, EngineMissing, EngineOptions, EngineResult


class _Base:
    name: ClassVar[str] = "checkov"

    def prepare(self) -> str:
        return "9.9.9"

    def grade(self, assembly: Path, options: EngineOptions) -> EngineResult:
        return EngineResult()


class CrashingEngine(_Base):
    """An adapter bug: an unexpected exception while grading."""

    def grade(self, assembly: Path, options: EngineOptions) -> EngineResult:
        raise KeyError("results")


class HangingEngine(_Base):
    """A tool that never returns."""

    def grade(self, assembly: Path, options: EngineOptions) -> EngineResult:
        time.sleep(3600)
        raise AssertionError("unreachable")


class HangingPrepareEngine(_Base):
    """A tool whose start-up never finishes."""

    def prepare(self) -> str:
        time.sleep(3600)
        return "never"


class DyingEngine(_Base):
    """A tool that takes its process down (a segfault, an OOM kill)."""

    def grade(self, assembly: Path, options: EngineOptions) -> EngineResult:
        os._exit(3)


class MissingEngine(_Base):
    """A tool that is not installed."""

    def prepare(self) -> str:
        raise EngineMissing("checkov is not installed; pip install checkov==3.3.30 or --skip checkov")


class FailingEngine(_Base):
    """A tool that runs and reports its own failure."""

    def grade(self, assembly: Path, options: EngineOptions) -> EngineResult:
        raise EngineFailure("exit status 2: template could not be parsed")


class SlowStartEngine(_Base):
    """A healthy tool with a slow start (like checkov's import), to check the start overlaps synthesis."""

    def prepare(self) -> str:
        # Each start appends "<begin> <end>" to the file the test names, so it can see whether two overlapped.
        begin = time.time()
        time.sleep(1.0)
        with open(os.environ["STACKGRADE_TEST_STARTS"], "a", encoding="utf-8") as starts:
            starts.write(f"{begin} {time.time()}\n")
        return "1.0"
