"""The score formula: exact values, not-applicable categories, normalization, grades and display rounding."""

from __future__ import annotations

from fractions import Fraction

import pytest

from checks.finding import CATEGORIES
from checks.score import formula, grade, score, shown
from tests.checks.merge_helpers import make_finding, merged


def queues(count: int, category: str = "reliability", stack: str = "App") -> set[tuple[str, str, str]]:
    return {(stack, f"Queue{n}", category) for n in range(count)}


def test_no_findings_scores_ten_and_unexamined_categories_are_not_applicable():
    scores = score([], queues(4))
    assert scores.categories["reliability"].value == 10
    assert scores.categories["reliability"].to_dict() == {
        "score": 10.0, "grade": "A", "resources": 4, "penalty": 0, "findings": 0}
    for category in set(CATEGORIES) - {"reliability"}:
        assert scores.categories[category].value is None
        assert scores.categories[category].to_dict()["score"] is None
        assert scores.categories[category].grade is None
    assert scores.overall.value == 10


def test_exact_values_of_the_formula():
    # 8 queues examined; high (5) + medium (2) + low (1) + info (0) = 8 -> 10 * 8 / 16 = 5.0
    findings = [merged(make_finding(f"SG-DLQ-00{n}", severity=s, logical_id=f"Queue{n}"))
                for n, s in enumerate(("high", "medium", "low", "info"))]
    scores = score(findings, queues(8))
    assert scores.categories["reliability"].value == 5
    assert scores.categories["reliability"].to_dict() == {
        "score": 5.0, "grade": "F", "resources": 8, "penalty": 8, "findings": 4}
    # one critical among 10 resources: 10 * 10 / 20
    assert score([merged(make_finding(severity="critical", logical_id="Queue0"))], queues(10)).overall.value == 5
    assert formula(3, 1) == Fraction(30, 4)
    assert formula(0, 0) is None


def test_suppressed_findings_do_not_count_but_their_resources_do():
    suppressed = make_finding(severity="critical", logical_id="Elsewhere", suppressed=True, suppression_reason="ok")
    scores = score([merged(suppressed, suppressed_by="config")], queues(1))
    assert scores.categories["reliability"].resources == 2
    assert scores.categories["reliability"].penalty == 0
    assert scores.overall.value == 10 and scores.overall.findings == 0


def test_findings_count_their_own_resources_as_examined():
    # An engine that reports only failures still gives the formula its resources.
    finding = make_finding(severity="high", logical_id=None)  # a whole stack: "(stack)"
    scores = score([merged(finding)], [])
    assert scores.categories["reliability"].resources == 1
    assert scores.overall.value == Fraction(10, 6)


def test_same_density_gives_the_same_score_at_any_size():
    def app(copies: int):
        findings, evaluated = [], set()
        for copy in range(copies):
            stack = f"App{copy}"
            evaluated |= queues(10, stack=stack) | queues(5, "security", stack)
            findings.append(merged(make_finding(severity="high", stack=stack, logical_id="Queue1")))
            findings.append(merged(make_finding("SG-IAM-001", concerns=("iam",), severity="medium", stack=stack,
                                                logical_id="Queue2")))
        return score(findings, evaluated)

    small, big = app(1), app(2)
    assert small.overall.value == big.overall.value == Fraction(10 * 15, 15 + 7)
    for category in CATEGORIES:
        assert small.categories[category].value == big.categories[category].value
    assert (small.overall.resources, big.overall.resources) == (10, 20)  # Queue0..4 in both categories
    assert (small.overall.examined, big.overall.examined) == (15, 30)


def test_overall_sums_over_the_categories():
    findings = [merged(make_finding(severity="high", logical_id="Queue0")),
                merged(make_finding("SG-TRC-001", concerns=("tracing",), severity="low", logical_id="Queue0"))]
    scores = score(findings, queues(2) | queues(3, "observability"))
    assert scores.overall.examined == 5 and scores.overall.penalty == 6
    assert scores.overall.value == Fraction(50, 11)
    data = scores.to_dict()
    assert list(data) == ["overall", "grade", "resources", "examined", "penalty", "findings", "categories"]
    assert data | {"categories": None} == {"overall": 4.5, "grade": "F", "resources": 3, "examined": 5, "penalty": 6,
                                           "findings": 2, "categories": None}
    assert data["categories"]["observability"] == {"score": 7.5, "grade": "C", "resources": 3, "penalty": 1,
                                                   "findings": 1}


def test_a_category_the_finding_model_does_not_know_is_an_error():
    with pytest.raises(ValueError, match="'speed' is not one of"):
        score([], {("App", "Queue", "speed")})


@pytest.mark.parametrize(("value", "letter"), [
    (10, "A"), (9, "A"), (Fraction(89999, 10000), "B"), (8, "B"), (7.99, "C"), (7, "C"), (6, "D"), (5.99, "F"),
    (0, "F"), (None, None)])
def test_grades(value, letter):
    assert grade(value) == letter


def test_scores_are_shown_rounded_down_so_a_shown_minimum_always_passes():
    assert shown(Fraction(699, 100)) == 6.9
    assert shown(Fraction(7)) == 7.0
    assert shown(Fraction(100, 3)) == 33.3
    assert shown(None) is None
