"""The catalogue as a whole, and every rule against its passing and failing fixtures.

Fixtures live in ``tests/rules/fixtures/<rule module>/``: ``*.pass.yaml`` must
produce no violation of the rule, ``*.fail.yaml`` exactly the logical IDs listed
under ``Metadata.stackgrade-test.offending`` (``(stack)`` for a stack-level
violation). ``Metadata.stackgrade-test.config`` holds settings for the case.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from checks.assembly import Assembly
from checks.config import parse_config
from checks.finding import CONCERNS
from checks.own_rules import evaluate, subject_id
from rules import all_rules, rule_modules

FIXTURES = Path(__file__).parent / "fixtures"
RULES = {rule.id: rule for rule in all_rules()}
MODULES = rule_modules()


def fixture_cases() -> list[tuple[str, Path]]:
    return [
        (rule_id, path)
        for rule_id, module in sorted(MODULES.items())
        for path in sorted((FIXTURES / module).glob("*.yaml"))
    ]


def test_ids_and_titles_are_unique_and_metadata_complete():
    assert len({r.id for r in RULES.values()}) == len(RULES)
    assert len({r.title for r in RULES.values()}) == len(RULES)
    for rule in RULES.values():
        assert set(rule.concerns) <= set(CONCERNS)
        assert rule.rationale.strip() and rule.remediation.strip(), rule.id


@pytest.mark.parametrize("rule_id", sorted(MODULES))
def test_every_rule_has_a_passing_and_a_failing_fixture(rule_id):
    files = [p.name for p in (FIXTURES / MODULES[rule_id]).glob("*.yaml")]
    assert any(f.endswith(".pass.yaml") for f in files), f"{rule_id} has no *.pass.yaml fixture"
    assert any(f.endswith(".fail.yaml") for f in files), f"{rule_id} has no *.fail.yaml fixture"


def test_no_fixture_folder_without_a_rule():
    assert {p.name for p in FIXTURES.iterdir() if p.is_dir()} <= set(MODULES.values())


@pytest.mark.parametrize(("rule_id", "fixture"), fixture_cases(), ids=lambda v: getattr(v, "name", v))
def test_rule_flags_exactly_the_expected_resources(rule_id, fixture):
    assembly = Assembly.load(fixture)
    spec = (assembly.stacks[0].template.get("Metadata") or {}).get("stackgrade-test") or {}
    config = parse_config(spec.get("config") or {}, str(fixture))
    evaluation = evaluate(assembly, config, rules=[RULES[rule_id]])
    offending = sorted(subject_id(o) for o in evaluation.failures)
    if fixture.name.endswith(".pass.yaml"):
        assert offending == [], [o.message for o in evaluation.failures]
        assert evaluation.outcomes, f"{fixture.name}: the rule applied to nothing, so the pass proves nothing"
    else:
        assert offending == sorted(spec.get("offending", [])), [o.message for o in evaluation.failures]
        assert all(o.message for o in evaluation.failures)
