"""Rule metadata (``rules/rule.py``) and catalogue discovery (``rules/__init__.py``)."""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import pytest

import rules.catalogue
from checks.assembly import Assembly
from checks.config import StackgradeConfig
from checks.finding import CONCERNS, SEVERITIES
from checks.relations import Relations
from rules import all_rules, rule_modules
from rules.rule import NOT_APPLICABLE, SCOPES, Rule, RuleContext

NESTED_ASSEMBLY = Path(__file__).parent.parent / "plugin_fixtures" / "nested-assembly"
VALID = dict(id="SG-TST-001", title="A test rule", severity="low", concerns=("tags",), rationale="why",
             remediation="how", check=lambda subject, context: None, applies_to=("AWS::SQS::Queue",))


def make_rule(**changes) -> Rule:
    return Rule(**{**VALID, **changes})


# --- Rule ------------------------------------------------------------------------------------------


def test_a_valid_rule_is_accepted_and_categorized_by_its_first_concern():
    rule = make_rule(concerns=("tags", "encryption"))
    assert (rule.id, rule.scope, rule.category) == ("SG-TST-001", "resource", "operations")
    assert make_rule(scope="stack", applies_to=()).scope == "stack"  # only resource rules name types
    assert make_rule(scope="assembly", applies_to=()).scope == "assembly"


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"id": "SG-TEST-01"}, "id must look like SG-DLQ-001"),
        ({"id": "sg-tst-001"}, "id must look like SG-DLQ-001"),
        ({"severity": "severe"}, f"severity must be one of {SEVERITIES}"),
        ({"concerns": ()}, f"concerns must be a non-empty list from {CONCERNS}"),
        ({"concerns": ("tags", "vibes")}, f"concerns must be a non-empty list from {CONCERNS}"),
        ({"scope": "region"}, f"scope must be one of {SCOPES}"),
        ({"applies_to": ()}, "a resource rule names the types it applies to"),
    ],
    ids=["id-shape", "id-case", "severity", "no-concerns", "unknown-concern", "scope", "resource-without-types"],
)
def test_invalid_metadata_is_rejected_naming_the_rule_and_the_problem(changes, problem):
    rule_id = changes.get("id", "SG-TST-001")
    with pytest.raises(ValueError) as error:
        make_rule(**changes)
    assert str(error.value) == f"rule {rule_id}: {problem}"


def test_every_problem_is_reported_at_once():
    with pytest.raises(ValueError) as error:
        make_rule(id="bad", severity="severe", concerns=(), applies_to=())
    assert str(error.value) == (
        f"rule bad: id must look like SG-DLQ-001; severity must be one of {SEVERITIES}; "
        f"concerns must be a non-empty list from {CONCERNS}; a resource rule names the types it applies to"
    )


def test_not_applicable_has_a_readable_repr():
    assert repr(NOT_APPLICABLE) == "NOT_APPLICABLE"


# --- RuleContext.environment_suffix ------------------------------------------------------------------


def context(assembly: Assembly, **settings) -> RuleContext:
    return RuleContext(assembly, Relations(assembly), StackgradeConfig(**settings))


@pytest.mark.parametrize(
    ("stack_name", "suffix"),
    [("Shop-dev", "dev"), ("Shop-web-prod", "prod"), ("Shop", None), ("Shop-", None)],
)
def test_the_suffix_is_the_last_segment_of_the_stack_name(stack_name, suffix):
    assembly = Assembly.from_templates({stack_name: {"Resources": {}}})
    assert context(assembly).environment_suffix(assembly.stacks[0]) == suffix


def test_a_configured_suffix_wins_over_the_stack_name():
    assembly = Assembly.from_templates({"Shop-dev": {"Resources": {}}})
    assert context(assembly, environment_suffix="qa7").environment_suffix(assembly.stacks[0]) == "qa7"


def test_a_nested_stack_takes_the_suffix_of_its_top_level_stack():
    assembly = Assembly.load(NESTED_ASSEMBLY)
    nested = next(s for s in assembly.stacks if s.nested)
    assert (nested.name, nested.top_level.name) == ("Shop-dev/Billing", "Shop-dev")
    assert context(assembly).environment_suffix(nested) == "dev"


# --- discovery ---------------------------------------------------------------------------------------


def rule_source(rule_id: str, title: str) -> str:
    return textwrap.dedent(f"""\
        from rules.rule import Rule

        RULE = Rule(id={rule_id!r}, title={title!r}, severity="low", concerns=("tags",), rationale="r",
                    remediation="f", check=lambda stack, context: None, scope="stack")
    """)


@pytest.fixture
def fake_catalogue(tmp_path, monkeypatch):
    """``fake_catalogue({module name: source})``: ``rules.catalogue`` holds just those modules for one test."""
    before = set(sys.modules)

    def install(modules: dict[str, str]) -> None:
        for name, source in modules.items():
            (tmp_path / f"{name}.py").write_text(source)
        importlib.invalidate_caches()
        monkeypatch.setattr(rules.catalogue, "__path__", [str(tmp_path)])
        all_rules.cache_clear()

    yield install
    monkeypatch.undo()
    for name in set(sys.modules) - before:
        if name.startswith("rules.catalogue."):
            del sys.modules[name]
    all_rules.cache_clear()


def test_discovery_sorts_by_id_and_skips_private_modules(fake_catalogue):
    fake_catalogue({
        "fake_zeta": rule_source("SG-TST-002", "Second"),
        "fake_alpha": rule_source("SG-TST-001", "First"),
        "_fake_shared": "HELPER = 1\n",  # a private helper module holds no rule
    })
    assert [(r.id, r.title) for r in all_rules()] == [("SG-TST-001", "First"), ("SG-TST-002", "Second")]
    assert rule_modules() == {"SG-TST-002": "fake_zeta", "SG-TST-001": "fake_alpha"}


def test_a_module_without_a_rule_is_an_error(fake_catalogue):
    fake_catalogue({
        "fake_good": rule_source("SG-TST-001", "First"),
        "fake_norule": "from rules.rule import Rule\n\nRULES = []\n",
    })
    with pytest.raises(TypeError) as error:
        all_rules()
    assert str(error.value) == "rules.catalogue.fake_norule defines no RULE (every catalogue module holds one rule)"


def test_a_rule_that_is_not_a_rule_is_an_error(fake_catalogue):
    fake_catalogue({"fake_dict": 'RULE = {"id": "SG-TST-001"}\n'})
    with pytest.raises(TypeError) as error:
        all_rules()
    assert str(error.value) == "rules.catalogue.fake_dict defines no RULE (every catalogue module holds one rule)"


def test_rules_sharing_an_id_are_an_error(fake_catalogue):
    fake_catalogue({
        "fake_one": rule_source("SG-TST-001", "First"),
        "fake_two": rule_source("SG-TST-001", "Second"),
        "fake_three": rule_source("SG-TST-003", "Third"),
    })
    with pytest.raises(ValueError) as error:
        all_rules()
    assert str(error.value) == "rules share an id: ['SG-TST-001']"


def test_rules_sharing_a_title_are_an_error(fake_catalogue):
    fake_catalogue({
        "fake_one": rule_source("SG-TST-001", "Same"),
        "fake_two": rule_source("SG-TST-002", "Same"),
        "fake_three": rule_source("SG-TST-003", "Other"),
        "fake_four": rule_source("SG-TST-004", "Other"),
    })
    with pytest.raises(ValueError) as error:
        all_rules()
    assert str(error.value) == "rules share a title: ['Other', 'Same']"


def test_the_real_catalogue_is_back_after_a_fake_one():
    # Runs after the fakes above: their modules and the cached result are gone.
    assert all(not name.startswith("rules.catalogue.fake_") for name in sys.modules)
    assert "SG-DLQ-001" in {r.id for r in all_rules()}
    assert "SG-TST-001" not in rule_modules()
