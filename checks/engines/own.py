"""The own-rules engine behind the engine interface: the Python rule catalogue over the parsed assembly."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import ClassVar

from checks.assembly import Assembly
from checks.engines import EngineOptions, EngineResult
from checks.own_rules import ENGINE, evaluate, to_finding


class OwnRulesEngine:
    """stackgrade's rule catalogue (``rules/catalogue``)."""

    name: ClassVar[str] = ENGINE

    def prepare(self) -> str:
        from rules import all_rules

        all_rules()  # import the catalogue now, while synthesis runs
        try:
            return version("stackgrade")
        except PackageNotFoundError:  # pragma: no cover - running from a checkout that was never installed
            return "0+unknown"

    def grade(self, assembly: Path, options: EngineOptions) -> EngineResult:
        evaluation = evaluate(Assembly.load(assembly), options.config)
        result = EngineResult()
        for outcome in evaluation.outcomes:
            if outcome.resource is not None:
                result.evaluated.add((outcome.stack.name, outcome.resource.logical_id, outcome.rule.category))
            if not outcome.passed:
                result.findings.append(to_finding(outcome))
        return result
