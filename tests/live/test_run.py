"""The live step: one LocalStack for all targets, deploy + probes + teardown, findings, the live section, faults.

Most tests use the session's LocalStack as an external endpoint; the fault tests start their own
embedded one (killing the shared one would end every other live test) and check that nothing of it
is left: no process carrying its run token, no listener on its port.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from checks.assembly import Assembly
from checks.live.localstack import marked_processes, port_is_free
from checks.live.probes import ProbeResult
from checks.live.deploy import ResourceFailure
from tests.live.conftest import localstack_of
from checks.live.run import LIVE_FILE, LiveOptions, LiveTarget, deploy_failures, probe_findings, run_live
from rules.live import live_rule

APPS = Path(__file__).resolve().parent / "fixtures" / "apps"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def probe(kind="dlq", stack="S", logical_id="Queue", resource_type="AWS::SQS::Queue", result="fail",
          detail="the message was lost", rule_id="SG-LIVE-001") -> ProbeResult:
    return ProbeResult(kind, stack, logical_id, resource_type, result, detail, 0.5, rule_id)


# Findings from probes (no LocalStack)


def test_failed_probes_become_findings_of_their_live_rule_on_the_right_resource():
    assembly = Assembly.load(APPS / "nested_asset")
    probes = [
        probe(stack="LiveFixture-Producer/Work", logical_id="Queue"),  # in the nested stack
        probe(kind="output", stack="LiveFixture-Producer", logical_id="QueueUrl", resource_type=None,
              detail="QueueUrl = 'x' answers nothing", rule_id="SG-LIVE-003"),
        probe(kind="output", stack="LiveFixture-Consumer", logical_id="ImportedParameter", resource_type=None,
              result="pass", rule_id="SG-LIVE-003"),
        probe(stack="LiveFixture-Producer/Work", logical_id="Dlq", result="pass"),
        probe(kind="emulation", logical_id="Cluster", resource_type="AWS::ECS::Cluster", result="not-emulated",
              rule_id=None),
        probe(kind="tracing", stack="LiveFixture-Producer/Work", logical_id="Function",
              resource_type="AWS::Lambda::Function", result="not-emulated", rule_id="SG-LIVE-004"),
    ]
    result = probe_findings(probes, assembly)
    queue, output = result.findings
    rule = live_rule("SG-LIVE-001")
    assert (queue.rule_id, queue.engine, queue.title, queue.severity, queue.category) == \
        ("SG-LIVE-001", "live", rule.title, rule.severity, rule.category)
    assert (queue.stack, queue.logical_id, queue.resource_type) == ("LiveFixture-Producer", "Queue", "AWS::SQS::Queue")
    assert queue.construct_path == "LiveFixture-Producer/Work/Queue/Resource"
    assert queue.message == "the message was lost" and queue.remediation == rule.remediation
    from checks.finding import fingerprint

    assert queue.fingerprint == fingerprint("SG-LIVE-001", "LiveFixture-Producer/Work", "Queue")
    assert (output.stack, output.logical_id, output.resource_type) == ("LiveFixture-Producer", None, None)
    assert output.message == "output QueueUrl: QueueUrl = 'x' answers nothing"
    assert output.fingerprint == fingerprint("SG-LIVE-003", "LiveFixture-Producer", "Outputs.QueueUrl")
    assert result.evaluated == {
        ("LiveFixture-Producer/Work", "Queue", "reliability"), ("LiveFixture-Producer/Work", "Dlq", "reliability"),
        ("LiveFixture-Producer", "(stack)", "operations"), ("LiveFixture-Consumer", "(stack)", "operations"),
    }


def test_a_probe_of_a_stack_the_assembly_does_not_know_keeps_its_names():
    (finding,) = probe_findings([probe(stack="Elsewhere")], Assembly.load(APPS / "failing")).findings
    assert (finding.stack, finding.logical_id, finding.construct_path) == ("Elsewhere", None, None)
    assert finding.message == "Queue: the message was lost"  # named by its logical id, not as an output


def test_resources_that_did_not_deploy_are_failed_deploy_probes_on_their_own_stack():
    """A failure's path ``<Nested>/<LogicalId>`` names the nested stack as the assembly does; a path the
    assembly cannot resolve keeps its names."""
    assembly = Assembly.load(APPS / "failing_nested")
    failures = [
        ResourceFailure("Inner/Broken", "AWS::Lambda::Function", "CREATE_FAILED", "the code bucket does not exist"),
        ResourceFailure("Inner", "AWS::CloudFormation::Stack", "CREATE_FAILED", ""),
        ResourceFailure("Gone/Deeper/Thing", "AWS::SQS::Queue", "NOT_CREATED", "never created"),
    ]
    broken, inner, unknown = deploy_failures(failures, "LiveFixture-FailingNested", assembly)
    rule = live_rule("SG-LIVE-011")
    assert (broken.kind, broken.stack, broken.logical_id, broken.resource_type, broken.result, broken.rule_id) == (
        "deploy", "LiveFixture-FailingNested/Inner", "Broken", "AWS::Lambda::Function", "fail", rule.id)
    assert broken.detail == ("CREATE_FAILED: the code bucket does not exist "
                             "(the app did not deploy, so no other probe ran)")
    assert (inner.stack, inner.logical_id) == ("LiveFixture-FailingNested", "Inner")
    assert inner.detail.startswith("CREATE_FAILED: no reason given")
    assert (unknown.stack, unknown.logical_id) == ("LiveFixture-FailingNested/Gone/Deeper", "Thing")

    from checks.finding import fingerprint

    found, stack_resource, elsewhere = probe_findings([broken, inner, unknown], assembly).findings
    assert (found.rule_id, found.severity, found.category, found.concerns) == (
        "SG-LIVE-011", "high", "reliability", ("deployment",))
    assert (found.stack, found.logical_id, found.resource_type) == (
        "LiveFixture-FailingNested", "Broken", "AWS::Lambda::Function")
    assert found.construct_path == "LiveFixture-FailingNested/Inner/Broken/Resource"
    assert found.fingerprint == fingerprint("SG-LIVE-011", "LiveFixture-FailingNested/Inner", "Broken")
    assert found.message == broken.detail and found.remediation == rule.remediation
    assert (stack_resource.stack, stack_resource.logical_id) == ("LiveFixture-FailingNested", "Inner")
    assert (elsewhere.stack, elsewhere.logical_id) == ("LiveFixture-FailingNested/Gone/Deeper", None)
    assert elsewhere.message.startswith("Thing: NOT_CREATED: never created")
    assert elsewhere.fingerprint == fingerprint("SG-LIVE-011", "LiveFixture-FailingNested/Gone/Deeper", "Thing")


def test_a_failed_clean_up_after_a_failed_deploy_is_the_targets_error_beside_the_deploy_probes():
    """What the failed deploy created and could not delete is left behind: as a failed teardown, an error."""
    from checks.live import Endpoint
    from checks.live.deploy import DeployError, Deployment, TeardownError
    from checks.live.run import LiveResult, _undeployed

    failure = ResourceFailure("Broken", "AWS::Lambda::Function", "CREATE_FAILED", "no code")
    error = DeployError("Stack LiveFixture-Failing failed\nCleaning up also failed: Teardown left stack X",
                        stack="LiveFixture-Failing", failures=[failure])
    error.cleanup_error = TeardownError("Teardown left stack X")
    error.deployment = Deployment(Assembly.load(APPS / "failing"), Endpoint("http://127.0.0.1:1", "external"), "r",
                                  APPS / "failing")
    result = LiveResult(LiveTarget("failing", APPS / "failing"))
    _undeployed(result, error, 1.5, lambda _line: None)
    assert result.status == "error"
    assert result.error == "Cleaning up after the failed deploy failed: Teardown left stack X"
    assert [(p.kind, p.logical_id) for p in result.probes] == [("deploy", "Broken")]
    assert result.timings == {"assets": 0.0, "deploy": 1.5}


# Against the session's LocalStack


@pytest.mark.live
def test_each_target_is_deployed_probed_torn_down_and_written(localstack, aws, tmp_path):
    import datetime

    started = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1)
    lines: list[str] = []
    options = LiveOptions(endpoint=localstack.url, build_dir=tmp_path)
    targets = [LiveTarget("nested", APPS / "nested_asset"), LiveTarget("broken", APPS / "failing"),
               LiveTarget("broken_nested", APPS / "failing_nested")]
    good, bad, bad_nested = run_live(targets, options, lines.append)
    assert good.status == "ok" and good.error is None
    assert good.endpoint == bad.endpoint and good.endpoint.kind == "external"
    assert [s.name for s in good.stacks] == ["LiveFixture-Producer", "LiveFixture-Consumer"]
    assert good.probes and not good.failed_probes
    assert {p.kind for p in good.probes} >= {"dlq", "output"}
    assert set(good.timings) == {"environment", "start", "assets", "deploy", "probes", "teardown"}
    assert good.timings["environment"] is None and good.timings["deploy"] > 0 and good.timings["teardown"] > 0
    assert any(line.startswith("nested: Deploying LiveFixture-Producer") for line in lines)
    assert any(line.startswith("nested: Deleting") for line in lines)

    flat = json.loads((tmp_path / "nested" / "cfn-outputs" / "flat-outputs.json").read_text())
    assert set(flat) == {"BucketName", "QueueUrl", "FunctionName", "ImportedParameter"}
    written = json.loads((tmp_path / "nested" / LIVE_FILE).read_text())
    assert written["target"] == "nested" and written["status"] == "ok" and written["deployed"] is True
    assert written["endpoint"]["kind"] == "external" and written["endpoint"]["url"] == localstack.url
    assert [s["name"] for s in written["stacks"]] == ["LiveFixture-Producer", "LiveFixture-Consumer"]
    assert written["summary"]["fail"] == 0 and written["summary"]["pass"] == len(good.probes)
    assert set(written["probes"][0]) == {"kind", "stack", "resource", "resource_type", "result", "detail", "seconds",
                                         "rule_id"}
    run = good.engine_run()
    assert (run.name, run.status, run.result.findings) == ("live", "ok", [])
    assert run.result.evaluated

    # An app that does not deploy is judged (a finding per failing resource), not an engine error.
    for result, stack, construct in ((bad, "LiveFixture-Failing", "LiveFixture-Failing/Broken/Resource"),
                                     (bad_nested, "LiveFixture-FailingNested/Inner",
                                      "LiveFixture-FailingNested/Inner/Broken/Resource")):
        assert result.status == "ok" and result.error is None and not result.deployed
        (failed,) = result.probes  # the resource that failed; no other probe ran
        assert (failed.kind, failed.stack, failed.logical_id, failed.result, failed.rule_id) == (
            "deploy", stack, "Broken", "fail", "SG-LIVE-011")
        assert failed.detail.startswith("CREATE_FAILED: ") and "no other probe ran" in failed.detail
        run = result.engine_run()
        (finding,) = run.result.findings
        assert run.status == "ok" and (finding.rule_id, finding.logical_id, finding.construct_path) == (
            "SG-LIVE-011", "Broken", construct)
        assert result.timings["deploy"] > 0 and "probes" not in result.timings and "teardown" not in result.timings
    written = json.loads((tmp_path / "broken" / LIVE_FILE).read_text())
    assert (written["status"], written["error"], written["deployed"], written["stacks"]) == ("ok", None, False, [])
    assert written["summary"] == {"pass": 0, "fail": 1, "not-emulated": 0}
    assert written["probes"][0]["resource"] == "Broken" and written["probes"][0]["kind"] == "deploy"
    assert any(line == "broken: 1 resource(s) did not deploy; the app did not deploy, so no other probe ran"
               for line in lines)
    stacks = aws("cloudformation").list_stacks()["StackSummaries"]
    assert {s["StackStatus"] for s in stacks if s["CreationTime"] >= started} == {"DELETE_COMPLETE"}


@pytest.mark.live
def test_a_deploy_that_fails_without_naming_a_resource_stays_the_targets_error(localstack, aws, tmp_path):
    """A stack that runs out of time says nothing about the app: an engine error (the gate fails closed)."""
    (result,) = run_live([LiveTarget("slow", APPS / "nested_asset")],
                         LiveOptions(endpoint=localstack.url, build_dir=tmp_path, stack_timeout=0.001))
    assert result.status == "error" and "was still CREATE_IN_PROGRESS after 0 s" in result.error
    assert result.probes == [] and not result.deployed and result.engine_run().status == "error"


@pytest.mark.live
def test_not_emulated_resources_are_listed_in_the_section_never_passed(localstack, tmp_path):
    (result,) = run_live([LiveTarget("containers", APPS / "not_emulated")],
                         LiveOptions(endpoint=localstack.url, build_dir=tmp_path))
    section = result.section()
    (stack,) = section["stacks"]
    assert [(e["resource"], e["type"]) for e in stack["not_emulated"]] == [
        ("Cluster", "AWS::ECS::Cluster"), ("Acl", "AWS::WAFv2::WebACL"), ("Dashboard", "AWS::CloudWatch::Dashboard"),
        ("Eip", "AWS::EC2::EIP")]
    assert "ECS is not in LocalStack" in stack["not_emulated"][0]["reason"]
    assert any("docker image asset" in note for note in stack["notes"])
    results = {(p["resource"], p["result"]) for p in section["probes"]}
    assert {("Cluster", "not-emulated"), ("Acl", "not-emulated"), ("Dashboard", "not-emulated")} <= results
    assert ("ClusterName", "pass") not in results  # an output naming an ECS cluster proves nothing
    assert section["summary"]["not-emulated"] >= 3


@pytest.mark.live
def test_a_probe_that_runs_out_of_time_is_a_failed_probe_and_a_finding(localstack, tmp_path):
    (result,) = run_live([LiveTarget("slow", APPS / "nested_asset")],
                         LiveOptions(endpoint=localstack.url, build_dir=tmp_path, probe_timeout=0.001))
    timed_out = [p for p in result.failed_probes if "timed out" in p.detail]
    assert timed_out and result.status == "ok"
    findings = result.engine_result().findings
    assert {f.rule_id for f in findings} >= {p.rule_id for p in timed_out}


@pytest.mark.live
def test_keep_leaves_the_stacks_and_calls_back(localstack, aws, tmp_path):
    from checks.live.deploy import Deployment, teardown

    kept = []
    (result,) = run_live([LiveTarget("kept", APPS / "not_emulated")],
                         LiveOptions(endpoint=localstack.url, build_dir=tmp_path, keep=True), on_kept=kept.append)
    assert kept == [result.endpoint] and result.timings["teardown"] is None
    (stack,) = result.stacks
    cfn = aws("cloudformation")
    assert cfn.describe_stacks(StackName=stack.stack_id)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    teardown(Deployment(result.assembly, result.endpoint, "kept", APPS / "not_emulated", stacks=[stack]))


@pytest.mark.live
def test_a_resource_the_teardown_leaves_is_the_targets_error(localstack, aws, tmp_path):
    dynamodb = aws("dynamodb")
    tables: list[str] = []

    def protect_the_table(line: str) -> None:  # while the probes run, as someone poking at the app could
        if "Running" in line:
            outputs = json.loads((tmp_path / "table" / "cfn-outputs" / "flat-outputs.json").read_text())
            tables.append(outputs["TableName"])
            dynamodb.update_table(TableName=tables[0], DeletionProtectionEnabled=True)

    (result,) = run_live([LiveTarget("table", APPS / "table")], LiveOptions(endpoint=localstack.url, build_dir=tmp_path),
                         protect_the_table)
    try:
        assert result.status == "error" and f"Table {tables[0]} (AWS::DynamoDB::Table) DELETE_FAILED" in result.error
        assert result.probes  # the probes ran; only the teardown failed
    finally:
        dynamodb.update_table(TableName=tables[0], DeletionProtectionEnabled=False)
        dynamodb.delete_table(TableName=tables[0])


def test_an_endpoint_that_only_answers_health_checks_is_each_targets_error(tmp_path):
    """Something that passes for LocalStack's health check but answers nothing else: a deploy error, no crash."""
    import http.server
    import threading

    from checks.live.localstack import SERVICES

    health = json.dumps({"services": {name: "available" for name in SERVICES}}).encode()
    asked: list[str] = []

    class HealthOnly(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server protocol
            asked.append(self.path)
            healthy = len(asked) == 1  # the endpoint check; the version lookup after it gets an error
            self.send_response(200 if healthy else 500)
            self.end_headers()
            self.wfile.write(health if healthy else b"")

        def do_POST(self):  # noqa: N802
            self.send_response(400)
            self.send_header("Content-Type", "text/xml")
            self.end_headers()
            self.wfile.write(b"<ErrorResponse><Error><Code>NotLocalStack</Code><Message>no</Message></Error>"
                             b"</ErrorResponse>")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), HealthOnly)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        (result,) = run_live([LiveTarget("x", APPS / "table")],
                             LiveOptions(endpoint=f"http://127.0.0.1:{server.server_port}", build_dir=tmp_path))
    finally:
        server.shutdown()
        server.server_close()
    assert result.localstack_version is None
    assert result.status == "error" and "refused GetCallerIdentity: NotLocalStack: no" in result.error


@pytest.mark.live
def test_a_remote_endpoint_is_refused_before_anything_runs(tmp_path):
    from checks.live import EndpointRefused

    with pytest.raises(EndpointRefused, match="--allow-remote-endpoint"):
        run_live([LiveTarget("x", APPS / "failing")], LiveOptions(endpoint="http://192.0.2.1:4566", build_dir=tmp_path))
    assert not (tmp_path / "x").exists()


# Faults with an embedded LocalStack of their own




def assert_nothing_left(token: str, port: int) -> None:
    assert marked_processes(token) == []
    assert port_is_free(port)


@pytest.mark.live
def test_localstack_killed_mid_run_ends_the_run_clearly_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("LOCALSTACK_ENDPOINT", raising=False)
    seen: dict = {}

    def progress(line: str) -> None:
        if "Deploying" in line and not seen:
            seen["pid"], seen["token"], seen["port"] = localstack_of(tmp_path / "localstack.log")
            os.killpg(seen["pid"], signal.SIGKILL)

    first, second = run_live([LiveTarget("one", APPS / "nested_asset"), LiveTarget("two", APPS / "failing")],
                             LiveOptions(build_dir=tmp_path), progress)
    assert first.status == "error" and "stopped during the run" in first.error
    assert second.status == "error" and second.error.startswith("not verified: ")
    assert first.endpoint.kind == "embedded" and first.timings["start"] is not None
    assert_nothing_left(seen["token"], seen["port"])


# The figures the issue asks for


@pytest.fixture(scope="module")
def ideal_assemblies(tmp_path_factory) -> list[LiveTarget]:
    """The five ideal reference assemblies, synthesized (or from the cache) the way `stackgrade live` gets them."""
    from checks.cache import default_cache_dir
    from checks.cli import resolve_targets
    from checks.engines import ENGINE_NAMES
    from checks.orchestrator import GradeOptions, grade
    from reference_stacks.catalog import SYSTEMS

    options = GradeOptions(build_dir=tmp_path_factory.mktemp("ideal-build"), skip=frozenset(ENGINE_NAMES),
                           cache_dir=default_cache_dir())
    graded = grade(resolve_targets([f"{system}-ideal" for system in SYSTEMS]), options)
    return sorted((LiveTarget(g.target.name, g.assembly) for g in graded), key=lambda t: t.name)


@pytest.mark.live
def test_all_five_ideal_systems_deploy_and_probe_within_two_minutes(localstack, ideal_assemblies, tmp_path):
    started = time.perf_counter()
    results = run_live(ideal_assemblies, LiveOptions(endpoint=localstack.url, build_dir=tmp_path))
    total = time.perf_counter() - started
    for result in results:
        stacks = ", ".join(f"{s.name} {s.seconds:.1f} s ({len(s.resources)} resources)" for s in result.stacks)
        print(f"{result.target.name}: deploy {stacks}; probes {result.timings.get('probes') or 0:.1f} s "
              f"({len(result.probes)}, {len(result.failed_probes)} failed); teardown "
              f"{result.timings.get('teardown') or 0:.1f} s")
    print(f"all five ideal systems deployed, probed and torn down in {total:.1f} s")
    assert [r.error for r in results if r.status != "ok"] == []
    assert total < 120
