"""Scores: 0-10 per category and overall, severity-weighted and normalized by how much was examined.

For a category ``c``: ``N`` is the number of distinct resources that any engine's rule of
category ``c`` examined (the engines' ``evaluated`` entries plus the resources of the
findings themselves), ``P`` the sum of the severity weights of the unsuppressed findings in
``c``, and ``score = 10 * N / (N + P)``: 10 without findings, falling smoothly, never below
0, and the same for the same density of findings, so a large app is not punished for its
size. ``N = 0`` means not applicable (``None``). The overall score uses the sums of ``N``
and ``P`` over the categories. docs/scoring.md explains the choice.

Scores are exact fractions; the scorecard shows them rounded DOWN to one decimal, so a
shown 7.0 always passes a minimum of 7.0 (the gate decides on the exact value).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable

from checks.finding import CATEGORIES
from checks.merge import MergedFinding

WEIGHTS: dict[str, int] = {"critical": 10, "high": 5, "medium": 2, "low": 1, "info": 0}
GRADES: tuple[tuple[int, str], ...] = ((9, "A"), (8, "B"), (7, "C"), (6, "D"))


@dataclass(frozen=True)
class Score:
    """One category's (or the overall) score and what it is made of."""

    value: Fraction | None  # None: no resource examined, not applicable
    resources: int  # N: distinct resources examined (overall: distinct over all categories)
    examined: int  # the N of the formula (overall: the sum over the categories)
    penalty: int  # P: the severity weights of the unsuppressed findings
    findings: int  # unsuppressed findings

    @property
    def shown(self) -> float | None:
        return shown(self.value)

    @property
    def grade(self) -> str | None:
        return grade(self.value)

    def to_dict(self) -> dict:
        return {"score": self.shown, "grade": self.grade, "resources": self.resources, "penalty": self.penalty,
                "findings": self.findings}


@dataclass(frozen=True)
class Scores:
    overall: Score
    categories: dict[str, Score]

    def to_dict(self) -> dict:
        """The scorecard's ``scores``: the overall score and grade at the top, then each category's."""
        overall = self.overall
        return {
            "overall": overall.shown, "grade": overall.grade, "resources": overall.resources,
            "examined": overall.examined, "penalty": overall.penalty, "findings": overall.findings,
            "categories": {name: score.to_dict() for name, score in self.categories.items()},
        }


def formula(examined: int, penalty: int) -> Fraction | None:
    """``10 * N / (N + P)``; None when nothing was examined."""
    return Fraction(10 * examined, examined + penalty) if examined else None


def shown(value: Fraction | None) -> float | None:
    """The score as the scorecard shows it: rounded down to one decimal."""
    return None if value is None else math.floor(value * 10) / 10


def grade(value: Fraction | float | None) -> str | None:
    """A (>= 9), B (>= 8), C (>= 7), D (>= 6), else F; None when not applicable."""
    if value is None:
        return None
    return next((letter for minimum, letter in GRADES if value >= minimum), "F")


def score(findings: Iterable[MergedFinding], evaluated: Iterable[tuple[str, str, str]]) -> Scores:
    """The scores of merged findings, with ``evaluated`` = ``(own stack, logical ID, category)`` entries."""
    examined: dict[str, set[tuple[str, str]]] = {c: set() for c in CATEGORIES}
    for stack, logical_id, category in evaluated:
        if category not in examined:
            raise ValueError(f"evaluated entry {(stack, logical_id, category)}: "
                             f"{category!r} is not one of {CATEGORIES}")
        examined[category].add((stack, logical_id))
    penalty = dict.fromkeys(CATEGORIES, 0)
    counted = dict.fromkeys(CATEGORIES, 0)
    for item in findings:
        category = item.finding.category
        examined[category].add(item.resource_key)
        if not item.finding.suppressed:
            penalty[category] += WEIGHTS[item.finding.severity]
            counted[category] += 1
    categories = {
        c: Score(formula(len(examined[c]), penalty[c]), len(examined[c]), len(examined[c]), penalty[c], counted[c])
        for c in CATEGORIES
    }
    total_examined = sum(s.examined for s in categories.values())
    total_penalty = sum(penalty.values())
    overall = Score(formula(total_examined, total_penalty), len(set().union(*examined.values())), total_examined,
                    total_penalty, sum(counted.values()))
    return Scores(overall, categories)
