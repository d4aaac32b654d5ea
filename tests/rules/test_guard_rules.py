"""Our cfn-guard rules: their metadata, their own ``cfn-guard test`` files, and the reference assemblies."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from checks.engines import EngineOptions
from checks.engines.cfn_guard import CfnGuardEngine, control_tower_rules
from reference_stacks.catalog import SYSTEMS
from rules import all_rules
from rules.guard import GUARD_DIR, TESTS_DIR, TESTS_SUFFIX, GuardRuleError, guard_rules, parse_guard_rule

GUARD_FILES = sorted(GUARD_DIR.glob("*.guard"))


@pytest.fixture(scope="session")
def guard_engine(tmp_path_factory) -> CfnGuardEngine:
    engine = CfnGuardEngine(cache_dir=tmp_path_factory.mktemp("guard-cache"))
    engine.prepare()
    return engine


# --- cfn-guard's own tests ----------------------------------------------------------------------


@pytest.mark.parametrize("rule_file", GUARD_FILES, ids=[p.stem for p in GUARD_FILES])
def test_cfn_guard_test_cases_pass(guard_engine, rule_file):
    tests = TESTS_DIR / f"{rule_file.stem}{TESTS_SUFFIX}"
    assert tests.is_file(), f"{rule_file.name} has no cfn-guard test file {tests}"
    run = subprocess.run([str(guard_engine._install.binary), "test", "--rules-file", str(rule_file),
                          "--test-data", str(tests), "--output-format", "json"],
                         capture_output=True, text=True, check=False)
    assert run.stdout.strip(), f"cfn-guard test printed nothing (exit {run.returncode}): {run.stderr}"
    report = json.loads(run.stdout)
    mismatches = [f"{case['name']}: {rule['name']} expected {rule['expected']}, got {rule['evaluated']}"
                  for case in report["test_cases"] for rule in case["failed_rules"]]
    assert not mismatches, "\n".join(mismatches)
    assert run.returncode == 0, run.stderr
    passed = sum(len(case["passed_rules"]) for case in report["test_cases"])
    assert passed == len(report["test_cases"])  # every case checked this file's one rule


@pytest.mark.parametrize("rule", guard_rules(), ids=lambda r: r.id)
def test_every_rule_has_passing_and_failing_cases(rule):
    assert rule.tests_path.is_file(), f"{rule.name}: add {rule.tests_path.relative_to(GUARD_DIR.parent.parent)}"
    cases = yaml.safe_load(rule.tests_path.read_text())
    expected = [case["expectations"]["rules"] for case in cases]
    assert all(set(e) == {rule.name} for e in expected), f"{rule.tests_path.name} names other rules"
    statuses = {e[rule.name] for e in expected}
    assert {"PASS", "FAIL"} <= statuses, f"{rule.tests_path.name} needs at least one PASS and one FAIL case"


def test_every_test_file_belongs_to_a_rule():
    names = {rule.name for rule in guard_rules()}
    orphans = [p.name for p in TESTS_DIR.glob(f"*{TESTS_SUFFIX}") if p.name.removesuffix(TESTS_SUFFIX) not in names]
    assert not orphans


# --- metadata -----------------------------------------------------------------------------------


def test_guard_rules_are_read_from_their_headers():
    rules = {rule.id: rule for rule in guard_rules()}
    assert 6 <= len(rules) <= 10
    bucket = rules["SG-BKT-001"]
    assert (bucket.name, bucket.severity, bucket.concerns, bucket.category) == \
        ("bucket_public_access_blocked", "high", ("iam",), "security")
    assert bucket.applies_to == ("AWS::S3::Bucket",)
    assert bucket.path == GUARD_DIR / "bucket_public_access_blocked.guard"
    assert bucket.rationale.startswith("A bucket's Block Public Access settings") and "\n" not in bucket.rationale
    assert bucket.seeds == ("004 Requirement 16 - AWS WAF (the S3 bucket receiving WAF logs)",)
    assert rules["SG-ELB-001"].seeds == ()


def test_no_guard_rule_shares_an_id_or_title_with_the_catalogue():
    catalogue = all_rules()
    for attribute in ("id", "title"):
        values = [getattr(r, attribute) for r in (*catalogue, *guard_rules())]
        assert len(values) == len(set(values)), f"shared {attribute}s"


def test_no_guard_rule_shares_a_name_with_a_control_tower_rule(guard_engine):
    control_tower = control_tower_rules(guard_engine._install.control_tower)
    assert not {rule.name for rule in guard_rules()} & set(control_tower)


HEADER = """# id: SG-TST-001
# title: Test buckets are fine
# severity: low
# concerns: [cost]
# message: bucket is not fine
# rationale: because
# remediation: fix it
"""
BODY = """
let buckets = Resources.*[ Type == 'AWS::S3::Bucket' ]
rule NAME when %buckets !empty { %buckets.Properties exists }
"""


def _rule_file(tmp_path: Path, text: str, name: str = "sample") -> Path:
    path = tmp_path / f"{name}.guard"
    path.write_text(text.replace("rule NAME", f"rule {name}"))
    return path


def test_a_well_formed_file_parses(tmp_path):
    rule = parse_guard_rule(_rule_file(tmp_path, HEADER + BODY))
    assert (rule.id, rule.name, rule.concerns, rule.applies_to, rule.seeds) == \
        ("SG-TST-001", "sample", ("cost",), ("AWS::S3::Bucket",), ())
    single = parse_guard_rule(_rule_file(tmp_path, HEADER.replace("[cost]", "cost") + "# seeds: one seed\n" + BODY))
    assert (single.concerns, single.seeds) == (("cost",), ("one seed",))


@pytest.mark.parametrize("text, problem", [
    ("# id: [unclosed\n" + BODY, "comment header is not valid YAML"),
    ("# just a comment\n" + BODY, "start the file with a comment header"),
    (HEADER.replace("# rationale: because\n", "") + BODY, "misses ['rationale']"),
    (HEADER + "# owner: me\n" + BODY, "unknown keys ['owner']"),
    (HEADER + BODY.replace("rule NAME", "rule other"), "define `rule sample ...`"),
    (HEADER.replace("SG-TST-001", "SG-1") + BODY, "id must look like"),
    (HEADER.replace("severity: low", "severity: urgent") + BODY, "severity must be one of"),
    (HEADER.replace("[cost]", "[speed]") + BODY, "concerns must be a non-empty list"),
    (HEADER.replace("# message: bucket is not fine", "# message:") + BODY, "message must not be empty"),
    (HEADER + BODY.replace("Type == 'AWS::S3::Bucket'", "Name exists"), "selects no resource type"),
])
def test_malformed_files_say_what_to_fix(tmp_path, text, problem):
    with pytest.raises(GuardRuleError, match=re.escape(problem)):
        parse_guard_rule(_rule_file(tmp_path, text))


def test_rules_of_one_directory_must_differ(tmp_path):
    _rule_file(tmp_path, HEADER + BODY, "first")
    _rule_file(tmp_path, HEADER.replace("Test buckets", "Other buckets") + BODY, "second")
    with pytest.raises(GuardRuleError, match=r"share an id: \['SG-TST-001'\]"):
        guard_rules(tmp_path)


# --- the reference assemblies -------------------------------------------------------------------


@pytest.mark.parametrize("system", SYSTEMS)
def test_ideal_assemblies_pass_every_guard_rule(guard_engine, ideal_dir, system):
    result = guard_engine.grade(ideal_dir(system), EngineOptions())
    assert [(f.rule_id, f.stack, f.logical_id) for f in result.findings] == []


def test_a_baseline_fails_guard_rules(guard_engine, reference_stack, test_suffix):
    assembly = Path(reference_stack("order_processing_fargate", "baseline").node.root.synth().directory)
    result = guard_engine.grade(assembly, EngineOptions())
    stack = f"OrderProcessingFargate-baseline-{test_suffix}"
    assert {(f.rule_id, f.construct_path) for f in result.findings} == {
        ("SG-ECS-001", f"{stack}/ApiService/Service"),
        ("SG-ECS-001", f"{stack}/WorkerService/Service"),
        ("SG-ECS-002", f"{stack}/Cluster/Resource"),
        ("SG-ELB-001", f"{stack}/LoadBalancer/Resource"),
    }
