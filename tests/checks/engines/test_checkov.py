"""The checkov engine: real checkov runs on a small fixture assembly, its CLI's JSON, and the mapping table."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import socket
import subprocess
import sys
from importlib.metadata import version as installed_version
from pathlib import Path

import pytest

from checks.assembly import Assembly
from checks.engines import EngineFailure, EngineMissing, EngineOptions
from checks.engines.checkov import NO_COMMENT, CheckovEngine, load_checkov, parse_report, run_checkov
from checks.finding import fingerprint
from rules.mapping import table

FIXTURE = Path(__file__).parent / "fixtures" / "checkov" / "assembly"
TEMPLATES = ("Fixture.template.json", "FixtureInner.nested.template.json")

# (rule id, stack as in the fingerprint, logical id, suppressed, construct path)
EXPECTED = {
    ("CKV_AWS_27", "Fixture", "PlainQueue", False, "Fixture/PlainQueue/Resource"),
    ("CKV_AWS_27", "Fixture", "ExplainedSkipQueue", True, "Fixture/ExplainedSkipQueue/Resource"),
    ("CKV_AWS_27", "Fixture", "BareSkipQueue", True, "Fixture/BareSkipQueue/Resource"),
    ("CKV_AWS_116", "Fixture", "Handler", False, "Fixture/Handler/Resource"),
    ("CKV_AWS_115", "Fixture", "Handler", False, "Fixture/Handler/Resource"),
    ("CKV_AWS_117", "Fixture", "Handler", False, "Fixture/Handler/Resource"),
    # The nested stack's queue shares its logical ID with the top-level one; its own stack name keeps them apart.
    ("CKV_AWS_27", "Fixture/Inner", "PlainQueue", False, "Fixture/Inner/PlainQueue/Resource"),
}


def triples(result) -> set[tuple]:
    """Each finding as (rule id, fingerprint stack, logical id, suppressed, construct path)."""
    by_print = {fingerprint(r, s, lid): s for r, s, lid, _, _ in EXPECTED}
    return {(f.rule_id, by_print.get(f.fingerprint, "?"), f.logical_id, f.suppressed, f.construct_path)
            for f in result.findings}


@pytest.fixture(scope="module")
def graded():
    return CheckovEngine().grade(FIXTURE, EngineOptions())


def test_prepare_returns_the_installed_checkov_version():
    assert CheckovEngine().prepare() == installed_version("checkov")


def test_grade_reports_failed_and_skipped_checks_on_every_template(graded):
    assert triples(graded) == EXPECTED
    assert {f.stack for f in graded.findings} == {"Fixture"}
    assert {f.engine for f in graded.findings} == {"checkov"}
    assert graded.unmapped == set()


def test_skip_comments_become_suppression_reasons(graded):
    reasons = {f.logical_id: f.suppression_reason for f in graded.findings if f.suppressed}
    assert reasons == {"ExplainedSkipQueue": "holds only public order ids", "BareSkipQueue": None}


def test_findings_carry_mapping_message_and_remediation(graded):
    queue = next(f for f in graded.findings if f.logical_id == "PlainQueue" and f.construct_path.startswith("Fixture/P"))
    assert (queue.severity, queue.category, queue.concerns) == ("medium", "security", ("encryption",))
    assert queue.resource_type == "AWS::SQS::Queue"
    assert queue.title == "Ensure all data stored in the SQS queue is encrypted"
    assert queue.message == ("AWS::SQS::Queue PlainQueue fails checkov CKV_AWS_27: Ensure all data stored in the "
                             "SQS queue is encrypted (checked Properties/KmsMasterKeyId).")
    assert "checkov: skip: [{id: CKV_AWS_27, comment: <why>}]" in queue.remediation
    dlq = next(f for f in graded.findings if f.rule_id == "CKV_AWS_116")
    assert (dlq.category, dlq.concerns) == ("reliability", ("dlq",))


def test_every_passed_failed_and_skipped_check_counts_its_resource(graded):
    assert graded.evaluated == {
        ("Fixture", "PlainQueue", "security"), ("Fixture", "KmsQueue", "security"),
        ("Fixture", "ExplainedSkipQueue", "security"), ("Fixture", "BareSkipQueue", "security"),
        ("Fixture", "HandlerRole", "security"),
        ("Fixture", "Handler", "security"), ("Fixture", "Handler", "reliability"),
        ("Fixture", "Handler", "operations"),
        ("Fixture/Inner", "PlainQueue", "security"),
    }


def test_run_skips_assets_writes_nothing_and_stays_off_the_network(monkeypatch):
    """The asset folder holds an unencrypted queue template: scanning it would add a finding."""
    before = {p: p.stat().st_mtime_ns for p in FIXTURE.rglob("*")}
    attempts: list = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network closed by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    report = run_checkov(Assembly.load(FIXTURE))
    assert attempts == []
    assert {p: p.stat().st_mtime_ns for p in FIXTURE.rglob("*")} == before
    scanned = {Path(r["file_abs_path"]).name for status in ("passed_checks", "failed_checks", "skipped_checks")
               for r in report["results"][status]}
    assert scanned == set(TEMPLATES)


def test_run_leaves_the_root_logger_without_handlers(monkeypatch):
    """checkov's root-level logging calls would otherwise install a stderr handler (logging.basicConfig)."""
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    run_checkov(Assembly.load(FIXTURE))
    assert root.handlers == []


def _grade_in_child(results) -> None:
    try:
        results.put(len(CheckovEngine().grade(FIXTURE, EngineOptions()).findings))
    except BaseException as error:  # noqa: BLE001 - the parent asserts on it
        results.put(repr(error))


def test_grade_works_in_a_daemonic_worker_process():
    """The orchestrator's workers are daemonic; checkov's own process-per-CPU parsing cannot start there."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    worker = context.Process(target=_grade_in_child, args=(results,), daemon=True)
    worker.start()
    try:
        assert results.get(timeout=120) == len(EXPECTED)
    finally:
        worker.join(timeout=30)


def test_missing_checkov_is_reported_with_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "checkov.cloudformation.runner", None)
    load_checkov.cache_clear()
    try:
        with pytest.raises(EngineMissing, match=r"pip install checkov==3\.3\.30.*--skip checkov"):
            CheckovEngine().prepare()
    finally:
        load_checkov.cache_clear()


def test_parse_report_reads_the_checkov_cli_json(graded):
    """The real CLI, as a user would run it, gives the same findings as the in-process run."""
    command = [str(Path(sys.executable).parent / "checkov"), "-f", *TEMPLATES, "--framework", "cloudformation",
               "-o", "json", "--skip-download"]
    run = subprocess.run(command, cwd=FIXTURE, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "LOG_LEVEL": "ERROR"})
    report = json.loads(run.stdout)
    assert report["check_type"] == "cloudformation"
    parsed = parse_report(report, Assembly.load(FIXTURE))
    key = lambda f: (f.rule_id, f.fingerprint)  # noqa: E731
    assert [f.to_dict() for f in sorted(parsed.findings, key=key)] == \
        [f.to_dict() for f in sorted(graded.findings, key=key)]
    assert parsed.evaluated == graded.evaluated


# --- parse_report on reports that only the edges of checkov produce ------------------------------


def record(**fields) -> dict:
    """One record of checkov's JSON report, as the CLI prints it from the fixture directory."""
    base = {
        "check_id": "CKV_AWS_27", "check_name": "Ensure all data stored in the SQS queue is encrypted",
        "check_result": {"result": "FAILED"}, "resource": "AWS::SQS::Queue.PlainQueue",
        "file_path": "/Fixture.template.json", "file_abs_path": "Fixture.template.json",
        "severity": None, "guideline": None,
    }
    return {**base, **fields}


def cloudformation(failed=(), skipped=(), passed=(), parsing_errors=()) -> dict:
    return {"check_type": "cloudformation", "results": {
        "failed_checks": list(failed), "skipped_checks": list(skipped), "passed_checks": list(passed),
        "parsing_errors": list(parsing_errors)}}


@pytest.fixture(scope="module")
def fixture_assembly() -> Assembly:
    return Assembly.load(FIXTURE)


def test_a_report_without_results_has_no_findings(fixture_assembly):
    # What the CLI prints when nothing was checked: a bare summary.
    summary = {"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 0, "resource_count": 0}
    result = parse_report(summary, fixture_assembly)
    assert (result.findings, result.evaluated, result.unmapped) == ([], set(), set())


def test_only_the_cloudformation_part_of_a_multi_framework_report_is_read(fixture_assembly):
    other = {"check_type": "secrets", "results": {"failed_checks": [record(check_id="CKV_SECRET_2")]}}
    result = parse_report([other, cloudformation(failed=[record()])], fixture_assembly)
    assert [(f.rule_id, f.logical_id) for f in result.findings] == [("CKV_AWS_27", "PlainQueue")]


def test_unmapped_ids_take_checkov_severity_and_are_listed(fixture_assembly):
    result = parse_report(cloudformation(failed=[record(
        check_id="CKV_AWS_999", check_name="Ensure something new", severity="HIGH",
        guideline="https://docs.example/CKV_AWS_999", resource="AWS::SQS::Queue.Gone",
    )]), fixture_assembly)
    finding, = result.findings
    assert (finding.severity, finding.category, finding.concerns) == ("high", "security", ())
    assert result.unmapped == {"CKV_AWS_999"}
    # A resource checkov names but the template lacks keeps checkov's type and has no construct path.
    assert (finding.logical_id, finding.resource_type, finding.construct_path) == ("Gone", "AWS::SQS::Queue", None)
    assert finding.message == "AWS::SQS::Queue Gone fails checkov CKV_AWS_999: Ensure something new."
    assert "see https://docs.example/CKV_AWS_999" in finding.remediation


@pytest.mark.parametrize("comment", [NO_COMMENT, ""])
def test_a_skip_without_a_real_comment_has_no_reason(fixture_assembly, comment):
    skipped = record(check_result={"result": "SKIPPED", "suppress_comment": comment})
    finding, = parse_report(cloudformation(skipped=[skipped]), fixture_assembly).findings
    assert (finding.suppressed, finding.suppression_reason) == (True, None)


def test_nested_templates_are_found_by_relative_path(fixture_assembly):
    nested = record(file_path="/FixtureInner.nested.template.json", file_abs_path="../elsewhere/x.json")
    finding, = parse_report(cloudformation(failed=[nested]), fixture_assembly).findings
    assert finding.fingerprint == fingerprint("CKV_AWS_27", "Fixture/Inner", "PlainQueue")
    assert finding.stack == "Fixture"


def test_a_file_outside_the_assembly_is_an_engine_failure(fixture_assembly):
    stray = record(file_path="/asset.0f1e2d/bundled.template.json", file_abs_path="asset.0f1e2d/bundled.template.json")
    with pytest.raises(EngineFailure, match=r"'/asset.0f1e2d/bundled.template.json'.*not one template"):
        parse_report(cloudformation(failed=[stray]), fixture_assembly)


def test_parsing_errors_are_an_engine_failure(fixture_assembly):
    with pytest.raises(EngineFailure, match="could not parse /x/broken.template.json"):
        parse_report(cloudformation(parsing_errors=["/x/broken.template.json"]), fixture_assembly)


# --- the mapping table ---------------------------------------------------------------------------


def test_the_mapping_table_places_every_cloudformation_check_of_checkov():
    load_checkov()
    from checkov.cloudformation.checks.resource.registry import cfn_registry
    from checkov.common.checks_infra.registry import get_graph_checks_registry

    graph = get_graph_checks_registry("cloudformation")
    graph.load_checks()
    ids = {check.id for checks in cfn_registry.checks.values() for check in checks} | {c.id for c in graph.checks}
    rows = table("checkov")["rules"]
    assert len(ids) > 100
    assert ids == set(rows)


# --- a real reference assembly -------------------------------------------------------------------


def test_a_reference_assembly_with_nested_stacks(pattern_assembly_dir, pattern_assembly):
    """Every finding names a real resource of its own (possibly nested) template, with its construct path."""
    result = CheckovEngine().grade(pattern_assembly_dir, EngineOptions())
    assert result.findings and result.unmapped == set()
    places = {}
    for finding in result.findings:
        places[finding.fingerprint] = stack, resource = next(
            (s, r) for s in pattern_assembly.stacks for r in s.resources.values()
            if fingerprint(finding.rule_id, s.name, r.logical_id) == finding.fingerprint
        )
        assert finding.stack == stack.top_level.name
        assert (finding.resource_type, finding.construct_path) == (resource.type, resource.construct_path)
        assert finding.construct_path
    assert any(stack.nested for stack, _ in places.values())
    evaluated_stacks = {s for s, _, _ in result.evaluated}
    assert evaluated_stacks <= {s.name for s in pattern_assembly.stacks}
    assert evaluated_stacks & {s.name for s in pattern_assembly.stacks if s.nested}
