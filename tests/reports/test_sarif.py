"""SARIF 2.1.0 renderer: golden file, schema validity, locations, fingerprints and suppressions.

The golden scorecard is a real grade of tests/plugin_fixtures/queues.yaml, frozen; ``nox -s goldens``
regenerates it with every golden report.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import sys
from pathlib import Path

import jsonschema
import pytest

from checks.cli import EXIT_ERROR, EXIT_OK, main as stackgrade_main
from checks.assembly import Stack
from checks.scorecard import ScorecardError, TemplateLines, read_scorecard, resource_lines, work_tree_root
from reports import goldens
from reports.goldens import freeze
from reports.sarif import (
    SARIF_SCHEMA_URI,
    SRCROOT,
    PathPrefixError,
    check_path_prefix,
    render_sarif,
    render_sarif_log,
    sarif_text,
    with_path_prefix,
)

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
SCORECARD = GOLDEN / "queues.scorecard.json"
FIXTURE = ROOT / "tests" / "plugin_fixtures" / "queues.yaml"
SCHEMA = ROOT / "reports" / "schemas" / "sarif-schema-2.1.0.json"
NESTED_APP = ROOT / "tests" / "fixtures" / "apps" / "nested_service"
NESTED = "NestedService/StorageNestedStackStorageNestedStackResource9807768E"  # the nested stack's own name
NESTED_TEMPLATE = "NestedServiceStorage47D2DD62.nested.template.json"
UPDATE = os.environ.get("STACKGRADE_UPDATE_GOLDEN") == "1"


def golden_scorecard(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The stored golden scorecard; with STACKGRADE_UPDATE_GOLDEN=1, graded anew first (real engines)."""
    if UPDATE and not getattr(golden_scorecard, "done", False):  # pragma: no cover - regeneration only
        build = tmp_path_factory.mktemp("golden-build")
        code = stackgrade_main(["grade", str(FIXTURE), "--build-dir", str(build), "--cache-dir", str(build / "cache"),
                                "-q"])
        assert code == 0, "grading the golden fixture failed"
        graded = read_scorecard(build / "reports" / "queues" / "scorecard.json")
        SCORECARD.write_text(json.dumps(freeze(graded), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        golden_scorecard.done = True
    return read_scorecard(SCORECARD)


def check_golden(path: Path, text: str) -> None:
    if UPDATE:  # pragma: no cover - regeneration only
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{path.name} differs; regenerate with STACKGRADE_UPDATE_GOLDEN=1"


@pytest.fixture(scope="session")
def scorecard(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return golden_scorecard(tmp_path_factory)


@pytest.fixture(scope="session")
def validator() -> jsonschema.Draft4Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())


def assert_valid(validator: jsonschema.Draft4Validator, log: dict) -> None:
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


def varied(scorecard: dict) -> dict:
    """The golden scorecard with what queues.yaml cannot show: sources, suppressions, an engine error, a baseline."""
    card = copy.deepcopy(scorecard)
    findings = {(f["rule_id"], f["logical_id"]): f for f in card["findings"]}
    findings[("SG-DLQ-001", "Orders")]["source"] = {"file": "shop/queues.py", "line": 12}
    findings[("SG-DLQ-001", "Payments")]["source"] = {"file": "/abs/app dir/stack.py", "line": 40}
    suppressed = findings[("SG-ENC-001", "Audit")]
    suppressed.update(suppressed=True, suppression_reason="SSE-SQS is on by default", suppression_source="config")
    findings[("SG-ENC-001", "AuditDlq")].update(suppressed=True, suppression_reason=None, suppression_source="engine")
    findings[("SG-OUT-003", "Audit")].update(logical_id=None, resource_type=None)
    for finding in card["findings"]:
        finding["new"] = finding["rule_id"] == "SG-DLQ-001"
    card["engines"][2].update(status="error", error="checkov timed out after 300 s", findings=None)
    return card


def results_by_key(log: dict) -> dict:
    return {(r["ruleId"], r["properties"]["logicalId"]): r for r in log["runs"][0]["results"]}


def test_golden(scorecard: dict) -> None:
    check_golden(GOLDEN / "queues.sarif", sarif_text(scorecard))


def test_golden_is_valid_sarif(scorecard: dict, validator: jsonschema.Draft4Validator) -> None:
    log = render_sarif(scorecard)
    assert_valid(validator, log)
    assert log["$schema"] == SARIF_SCHEMA_URI and log["version"] == "2.1.0" and len(log["runs"]) == 1
    run = log["runs"][0]
    assert run["tool"]["driver"]["name"] == "stackgrade"
    assert {(r["ruleId"], r["properties"]["logicalId"]) for r in run["results"]} == {
        (f["rule_id"], f["logical_id"]) for f in scorecard["findings"]}
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == list(dict.fromkeys(
        f["rule_id"] for f in scorecard["findings"]))
    # Every result names its rule by index, and the index points at that rule.
    rules = run["tool"]["driver"]["rules"]
    assert all(rules[r["ruleIndex"]]["id"] == r["ruleId"] for r in run["results"])


def test_variants_are_valid_sarif(scorecard: dict, validator: jsonschema.Draft4Validator) -> None:
    assert_valid(validator, render_sarif(varied(scorecard)))
    bare = copy.deepcopy(scorecard)
    bare["target"].pop("assembly")
    bare["generated_at"] = None
    bare["findings"] = []
    assert_valid(validator, render_sarif(bare))


def test_the_schema_rejects_invalid_sarif(scorecard: dict, validator: jsonschema.Draft4Validator) -> None:
    log = render_sarif(scorecard)
    log["runs"][0]["results"][0]["level"] = "fatal"
    log["runs"][0]["results"][1]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    log["runs"][0]["tool"]["driver"].pop("name")
    assert len(list(validator.iter_errors(log))) == 3


def test_rule_metadata(scorecard: dict) -> None:
    rules = {rule["id"]: rule for rule in render_sarif(scorecard)["runs"][0]["tool"]["driver"]["rules"]}
    encryption = rules["SG-ENC-001"]
    assert encryption["name"] == "SQSQueuesAreExplicitlyEncrypted"
    assert encryption["shortDescription"] == {"text": "SQS queues are explicitly encrypted"}
    assert encryption["help"]["text"].startswith("Set `encryption=sqs.QueueEncryption.SQS_MANAGED`")
    assert encryption["defaultConfiguration"] == {"level": "warning"}
    assert encryption["properties"]["tags"] == ["security", "encryption", "stackgrade", "checkov"]
    assert encryption["properties"]["security-severity"] == "5.5"
    assert rules["SG-DLQ-001"]["defaultConfiguration"] == {"level": "error"}
    assert rules["SG-DLQ-001"]["properties"]["security-severity"] == "8.0"
    assert rules["CKV_AWS_158"]["defaultConfiguration"] == {"level": "note"}


def test_results_fall_back_to_the_stack_template(scorecard: dict) -> None:
    results = results_by_key(render_sarif(scorecard))
    orders = results[("SG-DLQ-001", "Orders")]
    assert orders["level"] == "error"
    assert orders["message"]["text"].startswith("Shop/Orders/Resource: queue has no redrive policy")
    location = orders["locations"][0]
    # The template the user gave (not the JSON copy the engines read), at the resource's line, from the repo root.
    assert location["physicalLocation"] == {
        "artifactLocation": {"uri": "tests/plugin_fixtures/queues.yaml", "uriBaseId": SRCROOT},
        "region": {"startLine": 4}}
    assert results[("SG-DLQ-003", "AuditDlq")]["locations"][0]["physicalLocation"]["region"] == {"startLine": 16}
    assert location["logicalLocations"] == [
        {"name": "Orders", "fullyQualifiedName": "Shop/Orders/Resource", "kind": "resource"}]
    # Without a construct path the resource is named stack/logical ID.
    payments = results[("SG-DLQ-001", "Payments")]["locations"][0]["logicalLocations"][0]
    assert payments["fullyQualifiedName"] == "queues/Payments"
    assert orders["partialFingerprints"] == {"stackgrade/v1": "68886d3b75574c1606c5"}
    encrypted = results[("SG-ENC-001", "Audit")]
    assert encrypted["properties"]["alsoReportedAs"] == ["checkov:CKV_AWS_27"]
    assert encrypted["properties"]["engines"] == ["stackgrade", "checkov"]
    assert "suppressions" not in encrypted and "new" not in encrypted["properties"]


def test_results_at_the_cdk_source_line(scorecard: dict) -> None:
    results = results_by_key(render_sarif(varied(scorecard)))
    # Source files are relative to the app directory; the scorecard knows where that is in the repository.
    assert results[("SG-DLQ-001", "Orders")]["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "tests/plugin_fixtures/shop/queues.py", "uriBaseId": SRCROOT},
        "region": {"startLine": 12}}
    # A file outside the app directory keeps its absolute path, as a file URI.
    assert results[("SG-DLQ-001", "Payments")]["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "file:///abs/app%20dir/stack.py"}
    assert results[("SG-DLQ-001", "Orders")]["properties"]["new"] is True
    assert results[("SG-RMV-001", "Orders")]["properties"]["new"] is False


def test_suppressions(scorecard: dict) -> None:
    results = results_by_key(render_sarif(varied(scorecard)))
    assert results[("SG-ENC-001", "Audit")]["suppressions"] == [
        {"kind": "external", "status": "accepted", "justification": "SSE-SQS is on by default"}]
    # A suppression without a reason has no justification (the merge made it a finding of its own).
    assert results[("SG-ENC-001", "AuditDlq")]["suppressions"] == [{"kind": "inSource", "status": "accepted"}]


def test_stack_findings_and_engine_errors(scorecard: dict) -> None:
    log = render_sarif(varied(scorecard))
    stack_result = results_by_key(log)[("SG-OUT-003", None)]
    assert stack_result["locations"][0]["logicalLocations"] == [
        {"name": "queues", "fullyQualifiedName": "queues", "kind": "module"}]
    assert stack_result["message"]["text"].startswith("queues: ")
    invocation = log["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert invocation["endTimeUtc"] == "2000-01-01T00:00:00Z"
    assert [(n["level"], n["descriptor"]["id"]) for n in invocation["toolExecutionNotifications"]] == [
        ("note", "engine/cdk-nag"), ("error", "engine/checkov")]
    assert invocation["toolExecutionNotifications"][1]["message"]["text"] == \
        "checkov failed: checkov timed out after 300 s"
    assert log["runs"][0]["properties"]["engines"]["checkov"]["status"] == "error"


def test_without_an_assembly_the_template_is_named_alone(scorecard: dict) -> None:
    card = copy.deepcopy(scorecard)
    card["target"].pop("assembly")
    card["target"].pop("locations")  # as scorecards written before locations were recorded
    card["engines"][1]["error"] = None
    log = render_sarif(card)
    location = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": "queues.template.json", "uriBaseId": SRCROOT}
    assert log["runs"][0]["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"] == \
        "cdk-nag was skipped: no reason given"


def test_refuses_what_is_not_a_scorecard() -> None:
    with pytest.raises(ScorecardError, match="not a stackgrade/scorecard@1 scorecard"):
        render_sarif({"schema": "other"})


# --- locations in the repository: a real app with a nested stack, in a subfolder of a git work tree -------------


def line_of(path: Path, text: str) -> int:
    """The 1-based line of the first line of ``path`` that contains ``text``."""
    return next(number for number, line in enumerate(path.read_text().splitlines(), 1) if text in line)


@pytest.fixture(scope="module")
def nested_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A work tree (stackgrade only looks for its .git) holding the nested-stack app at infra/app, graded; and
    that app's cloud assembly at infra/ts-app/cdk.out without stackgrade's synthesis record (as `cdk synth` of a
    TypeScript app leaves it: no source lines), graded as an assembly."""
    repo = tmp_path_factory.mktemp("nested") / "repo"
    (repo / ".git").mkdir(parents=True)
    shutil.copytree(NESTED_APP, repo / "infra" / "app")
    common = ["--build-dir", str(repo / "build"), "--cache-dir", str(repo.parent / "cache"), "--skip", "checkov", "-q"]
    assert stackgrade_main(["grade", str(repo / "infra" / "app"), "--python", sys.executable, *common]) == EXIT_OK
    cdk_out = repo / "infra" / "ts-app" / "cdk.out"
    shutil.copytree(repo / "build" / "cdk.out" / "app", cdk_out)
    (cdk_out / "stackgrade-synth.json").unlink()
    assert stackgrade_main(["grade", str(cdk_out), *common]) == EXIT_OK
    return repo


def test_a_python_app_in_a_subfolder_points_at_its_source_lines_from_the_repo_root(nested_repo, validator):
    card = read_scorecard(nested_repo / "build" / "reports" / "app" / "scorecard.json")
    assert card["target"]["locations"] == {
        "sources_in_repo": "infra/app", "templates_in_repo": "build/cdk.out/app", "templates_in_sources": None,
        "templates": {"NestedService": "NestedService.template.json", NESTED: NESTED_TEMPLATE}}
    jobs = {f["rule_id"]: f for f in card["findings"] if f["logical_id"] == "JobsDF1CC2D4"}
    assert jobs["SG-DLQ-001"]["stack"] == "NestedService" and jobs["SG-DLQ-001"]["nested_stack"] == NESTED

    log = json.loads((nested_repo / "build" / "reports" / "app" / "scorecard.sarif").read_text())
    assert_valid(validator, log)
    results = results_by_key(log)
    stack_py = NESTED_APP / "nested_service" / "stack.py"
    assert results[("SG-DLQ-001", "JobsDF1CC2D4")]["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "infra/app/nested_service/stack.py", "uriBaseId": SRCROOT},
        "region": {"startLine": line_of(stack_py, 'sqs.Queue(self, "Jobs"')}}
    assert results[("SG-ENC-002", "Alerts91F83244")]["locations"][0]["physicalLocation"]["region"] == {
        "startLine": line_of(stack_py, 'sns.Topic(self, "Alerts")')}
    # A finding on the whole stack has no construct, so no source line: its template, from the repo root.
    assert results[("SG-OUT-001", None)]["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "build/cdk.out/app/NestedService.template.json", "uriBaseId": SRCROOT},
        "region": {"startLine": 1}}
    assert log["runs"][0]["originalUriBaseIds"][SRCROOT]["description"]["text"].startswith("The root of the repo")


def test_an_assembly_without_source_lines_points_into_the_nested_stacks_own_template(nested_repo, validator):
    log = json.loads((nested_repo / "build" / "reports" / "cdk.out" / "scorecard.sarif").read_text())
    assert_valid(validator, log)
    results = results_by_key(log)
    cdk_out = nested_repo / "infra" / "ts-app" / "cdk.out"
    # CDK writes templates with one-space indents: a resource's key is two spaces in.
    assert results[("SG-DLQ-001", "JobsDF1CC2D4")]["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": f"infra/ts-app/cdk.out/{NESTED_TEMPLATE}", "uriBaseId": SRCROOT},
        "region": {"startLine": line_of(cdk_out / NESTED_TEMPLATE, '  "JobsDF1CC2D4": {')}}
    assert results[("SG-ENC-002", "Alerts91F83244")]["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "infra/ts-app/cdk.out/NestedService.template.json", "uriBaseId": SRCROOT},
        "region": {"startLine": line_of(cdk_out / "NestedService.template.json", '  "Alerts91F83244": {')}}


def test_a_path_prefix_overrides_what_git_says(nested_repo, capsys):
    reports = nested_repo / "build" / "reports"
    assert stackgrade_main(["report", "--format", "sarif", str(reports / "cdk.out" / "scorecard.json"),
                            "--sarif-path-prefix", "./services/ts/"]) == EXIT_OK
    results = results_by_key(json.loads(capsys.readouterr().out))
    assert results[("SG-DLQ-001", "JobsDF1CC2D4")]["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": f"services/ts/cdk.out/{NESTED_TEMPLATE}", "uriBaseId": SRCROOT}
    assert stackgrade_main(["report", "--format", "sarif", str(reports / "app" / "scorecard.json"),
                            "--sarif-path-prefix", "svc"]) == EXIT_OK
    results = results_by_key(json.loads(capsys.readouterr().out))
    assert results[("SG-DLQ-001", "JobsDF1CC2D4")]["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "svc/nested_service/stack.py", "uriBaseId": SRCROOT}
    # The app's templates are outside the app directory: where they are under the prefix is unknown.
    assembly = str(nested_repo / "build" / "cdk.out" / "app" / "NestedService.template.json")
    assert results[("SG-OUT-001", None)]["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "file://" + assembly}
    assert stackgrade_main(["report", "--format", "sarif", str(reports / "app" / "scorecard.json"),
                            "--sarif-path-prefix", "../elsewhere"]) == EXIT_ERROR
    assert "must be a path relative to the repository root" in capsys.readouterr().err


def test_a_path_prefix_given_to_grade_is_kept_in_the_scorecard(tmp_path, validator):
    assert stackgrade_main(["grade", str(FIXTURE), "--build-dir", str(tmp_path / "build"), "--cache-dir",
                            str(tmp_path / "cache"), "--skip", "checkov", "--skip", "cfn-guard", "-q",
                            "--sarif-path-prefix", "cfn"]) == EXIT_OK
    reports = tmp_path / "build" / "reports" / "queues"
    assert read_scorecard(reports / "scorecard.json")["target"]["locations"]["sources_in_repo"] == "cfn"
    log = json.loads((reports / "scorecard.sarif").read_text())
    assert_valid(validator, log)
    assert results_by_key(log)[("SG-DLQ-001", "Orders")]["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "cfn/queues.yaml", "uriBaseId": SRCROOT}, "region": {"startLine": 4}}


def test_without_a_work_tree_paths_are_relative_to_the_app_directory(scorecard, validator):
    card = varied(scorecard)
    card["target"]["locations"].update(sources_in_repo=None, templates_in_repo=None)
    log = render_sarif(card)
    assert_valid(validator, log)
    results = results_by_key(log)
    assert results[("SG-DLQ-001", "Orders")]["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "shop/queues.py", "uriBaseId": SRCROOT}
    assert results[("SG-DLQ-003", "AuditDlq")]["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "queues.yaml", "uriBaseId": SRCROOT}
    assert log["runs"][0]["originalUriBaseIds"][SRCROOT]["description"]["text"].startswith("The CDK app directory")
    # Templates outside the app directory, no work tree: the assembly path the scorecard recorded.
    card["target"]["locations"]["templates_in_sources"] = None
    results = results_by_key(render_sarif(card))
    assert results[("SG-DLQ-003", "AuditDlq")]["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "build/cdk.out/queues/queues.yaml", "uriBaseId": SRCROOT}


def test_path_prefixes_are_relative_paths_inside_the_repository(scorecard):
    assert [check_path_prefix(p) for p in ("infra/app", "./infra//app/", ".", "", "a\\b")] == [
        "infra/app", "infra/app", "", "", "a/b"]
    for bad in ("/abs", "..", "../up", "a/../../up", "C:\\repo"):
        with pytest.raises(PathPrefixError, match="must be a path relative to the repository root"):
            check_path_prefix(bad)
    assert with_path_prefix(scorecard, None) is scorecard
    legacy = copy.deepcopy(scorecard)
    legacy["target"].pop("locations")
    moved = with_path_prefix(legacy, ".")
    assert moved["target"]["locations"] == {"sources_in_repo": ".", "templates_in_repo": None}
    assert "locations" not in legacy["target"]


def test_work_tree_root_and_resource_lines(tmp_path):
    linked = tmp_path / "linked"
    (linked / "app").mkdir(parents=True)
    (linked / ".git").write_text("gitdir: /elsewhere/.git/worktrees/linked\n")  # a linked worktree's .git file
    assert work_tree_root(linked / "app") == linked
    assert work_tree_root(Path("/")) is None
    yaml = tmp_path / "t.yaml"
    yaml.write_text("Parameters:\n  Orders:\n    Type: String\nResources:\n  'Orders':\n    Type: AWS::SQS::Queue\n"
                    "    Properties:\n      Tags: []\n  \"Dlq\":\n    Type: AWS::SQS::Queue\nOutputs:\n  Url:\n"
                    "    Value: x\n")
    assert resource_lines(yaml) == {"Orders": 5, "Dlq": 9}
    one_line = tmp_path / "t.json"
    one_line.write_text('{"Resources": {"Orders": {"Type": "AWS::SQS::Queue"}}}')
    assert resource_lines(one_line) == {}  # no layout to go by: reports use line 1
    assert resource_lines(tmp_path / "missing.json") == {}
    lines = TemplateLines()
    assert lines.line(Stack("parsed", {"Resources": {}}), "Orders") is None  # a template never read from a file
    assert lines.line(Stack("file", {}, yaml), "Dlq") == 9


def test_one_log_with_a_run_per_target(validator):
    cards = goldens.stored_cards()
    log = render_sarif_log([cards["shop"], cards["queues"]])
    assert_valid(validator, log)
    assert [run["automationDetails"]["id"] for run in log["runs"]] == ["stackgrade/shop/", "stackgrade/queues/"]
    assert json.loads(sarif_text([cards["shop"], cards["queues"]])) == log
    assert [run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for run in log["runs"]] \
        == ["tests/reports/fixtures/current/shop.yaml", "tests/plugin_fixtures/queues.yaml"]


def test_a_reference_system_points_into_this_repository(tmp_path, validator):
    # Reference systems are synthesized from stackgrade's own checkout: their sources are paths in it.
    assert stackgrade_main(["grade", "payments_dr-ideal", "--build-dir", str(tmp_path / "build"), "--cache-dir",
                            str(tmp_path / "cache"), "--skip", "checkov", "--skip", "cfn-guard", "-q"]) == EXIT_OK
    reports = tmp_path / "build" / "reports" / "payments_dr-ideal"
    assert read_scorecard(reports / "scorecard.json")["target"]["locations"]["sources_in_repo"] == "."
    log = json.loads((reports / "scorecard.sarif").read_text())
    assert_valid(validator, log)
    stack_py = (ROOT / "reference_stacks" / "payments_dr" / "stack.py").read_text().splitlines()
    api_line = stack_py.index("        api = apigateway.RestApi(") + 1  # the ideal variant's API
    result = results_by_key(log)[("AwsSolutions-IAM4", "PaymentAPICloudWatchRoleAF3C1646")]
    assert result["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "reference_stacks/payments_dr/stack.py", "uriBaseId": SRCROOT},
        "region": {"startLine": api_line}}
