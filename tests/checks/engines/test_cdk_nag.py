"""The cdk-nag engine on real cdk-nag 3 and cdk-nag 2 runs, and the mapping table's completeness."""

from __future__ import annotations

import json
import re
import shutil
import tarfile
from importlib import metadata
from pathlib import Path

import pytest

import cdk_nag
from checks.engines import SYNTH_RECORD, EngineFailure, EngineMissing, EngineOptions
from checks.engines.cdk_nag import NOT_SYNTHESIZED, CdkNagEngine, split_rule
from checks.finding import SourceLocation
from rules.mapping import table
from tests.checks.synthesis.envs import APPS, line_of, nag2_python, synthesized

STACK_PY = APPS / "small_service" / "small_service" / "stack.py"

SMALL_SERVICE = {
    ("AwsSolutions-APIG1", "ApiDeploymentStageprod3EB9684E"),
    ("AwsSolutions-APIG2", "ApiF70053CD"),
    ("AwsSolutions-APIG3", "ApiDeploymentStageprod3EB9684E"),
    ("AwsSolutions-APIG4", "ApiANY40671C4F"),
    ("AwsSolutions-APIG4", "ApiproxyANY4946669B"),
    ("AwsSolutions-APIG6", "ApiDeploymentStageprod3EB9684E"),
    ("AwsSolutions-COG4", "ApiANY40671C4F"),
    ("AwsSolutions-COG4", "ApiproxyANY4946669B"),
    ("AwsSolutions-DDB3", "OrdersA9B65338"),
    ("AwsSolutions-IAM4", "ApiCloudWatchRole73EC6FC4"),
    ("AwsSolutions-IAM4", "ApiFnServiceRoleD18AAE0E"),
    ("AwsSolutions-IAM4", "WorkerServiceRole8543584E"),
    ("AwsSolutions-L1", "ApiFnE0725F78"),
    ("AwsSolutions-L1", "Worker11F36D0F"),
    ("AwsSolutions-SNS3", "Alerts91F83244"),
    ("AwsSolutions-SQS3", "JobsDF1CC2D4"),
    ("AwsSolutions-SQS4", "JobsDF1CC2D4"),
    ("Serverless-APIGWAccessLogging", "ApiDeploymentStageprod3EB9684E"),
    ("Serverless-APIGWDefaultThrottling", "ApiDeploymentStageprod3EB9684E"),
    ("Serverless-APIGWXrayEnabled", "ApiDeploymentStageprod3EB9684E"),
    ("Serverless-LambdaDLQ", "ApiFnE0725F78"),
    ("Serverless-LambdaDLQ", "Worker11F36D0F"),
    ("Serverless-LambdaDefaultMemorySize", "Worker11F36D0F"),
    ("Serverless-LambdaEventSourceMappingDestination", "WorkerSqsEventSourceSmallServiceJobs37ADA512BDB8388D"),
    ("Serverless-LambdaLatestVersion", "ApiFnE0725F78"),
    ("Serverless-LambdaLatestVersion", "Worker11F36D0F"),
    ("Serverless-LambdaTracing", "ApiFnE0725F78"),
    ("Serverless-LambdaTracing", "Worker11F36D0F"),
    ("Serverless-SQSRedrivePolicy", "JobsDF1CC2D4"),
}


@pytest.fixture(scope="module")
def small_service():
    return CdkNagEngine().grade(synthesized("small_service").assembly, EngineOptions())


def by_key(result):
    return {(f.rule_id, f.logical_id): f for f in result.findings}


def test_prepare_returns_the_installed_version():
    assert CdkNagEngine().prepare() == metadata.version("cdk-nag")


def test_small_service_findings_are_exactly_the_expected_ones(small_service):
    assert set(by_key(small_service)) == SMALL_SERVICE
    assert len(small_service.findings) == len(SMALL_SERVICE)
    assert small_service.version == "3.0.2" and small_service.unmapped == set()
    assert all(f.engine == "cdk-nag" and f.stack == "SmallService" and f.construct_path for f in small_service.findings)


def test_acknowledgements_are_suppressed_findings_with_their_reason(small_service):
    findings = by_key(small_service)
    assert {key for key, f in findings.items() if f.suppressed} == {
        ("AwsSolutions-SQS4", "JobsDF1CC2D4"), ("AwsSolutions-SNS3", "Alerts91F83244")}
    assert findings["AwsSolutions-SQS4", "JobsDF1CC2D4"].suppression_reason == "Internal queue, TLS enforced at the client"
    # Acknowledged with reason="" (and a bare rule id, which cdk-nag alone would drop silently).
    assert findings["AwsSolutions-SNS3", "Alerts91F83244"].suppression_reason is None


def test_findings_are_mapped_located_and_explained(small_service):
    sqs3 = by_key(small_service)["AwsSolutions-SQS3", "JobsDF1CC2D4"]
    assert (sqs3.severity, sqs3.category, sqs3.concerns) == ("high", "reliability", ("dlq",))
    assert sqs3.resource_type == "AWS::SQS::Queue" and sqs3.construct_path == "SmallService/Jobs/Resource"
    assert sqs3.source == SourceLocation("small_service/stack.py", line_of(STACK_PY, "queue = sqs.Queue("))
    assert sqs3.message == "The SQS queue is not used as a dead-letter queue (DLQ) and does not have a DLQ enabled."
    assert 'acknowledge(Acknowledgment(id="AwsSolutions::AwsSolutions-SQS3"' in sqs3.remediation
    iam4 = by_key(small_service)["AwsSolutions-IAM4", "WorkerServiceRole8543584E"]
    assert "AWSLambdaBasicExecutionRole" in iam4.message and "AwsSolutions-IAM4[Policy::" in iam4.remediation
    assert ("SmallService", "JobsDF1CC2D4", "reliability") in small_service.evaluated


def test_cdk_nag_2_reports_findings_suppressions_and_passes():
    result = CdkNagEngine().grade(synthesized("nag2_service", nag2_python()).assembly, EngineOptions())
    findings = by_key(result)
    assert set(findings) == {("AwsSolutions-SQS4", "WorkBF636A8B"), ("Serverless-SQSRedrivePolicy", "DeadLettersBBF8BAAB")}
    assert not findings["AwsSolutions-SQS4", "WorkBF636A8B"].suppressed
    redrive = findings["Serverless-SQSRedrivePolicy", "DeadLettersBBF8BAAB"]
    assert redrive.suppressed and redrive.suppression_reason == "This queue is the dead-letter queue of Work"
    assert "NagSuppressions.add_resource_suppressions" in redrive.remediation
    assert redrive.source is not None and redrive.source.file == "app.py"
    assert result.version == "2.38.2"
    # cdk-nag 2 reports passes too: both queues were examined for encryption.
    assert {("LegacyQueues", "WorkBF636A8B", "security"), ("LegacyQueues", "DeadLettersBBF8BAAB", "security")} \
        <= result.evaluated


def copy_assembly(tmp_path: Path, record: dict | None) -> Path:
    assembly = tmp_path / "assembly"
    shutil.copytree(synthesized("small_service").assembly, assembly)
    if record is None:
        (assembly / SYNTH_RECORD).unlink()
    else:
        (assembly / SYNTH_RECORD).write_text(json.dumps(record))
    return assembly


def test_an_existing_assembly_without_record_is_skipped_with_the_reason(tmp_path):
    result = CdkNagEngine().grade(copy_assembly(tmp_path, None), EngineOptions())
    assert result.skipped_reason == NOT_SYNTHESIZED and not result.findings


@pytest.mark.parametrize(("nag", "raised", "message"), [
    ({"status": "missing", "error": "cdk-nag is not installed; pip install cdk-nag"}, EngineMissing, "pip install"),
    ({"status": "error", "error": "cdk-nag 3.0.2 has no pack named Nope"}, EngineFailure, "no pack named Nope"),
])
def test_missing_and_broken_cdk_nag_raise(tmp_path, nag, raised, message):
    with pytest.raises(raised, match=message):
        CdkNagEngine().grade(copy_assembly(tmp_path, {"cdk_nag": nag}), EngineOptions())


def test_skipped_cdk_nag_and_unreadable_inputs(tmp_path):
    skipped = {"cdk_nag": {"status": "skipped", "reason": "not a Python app: ..."}}
    assert CdkNagEngine().grade(copy_assembly(tmp_path, skipped), EngineOptions()).skipped_reason == "not a Python app: ..."
    assembly = tmp_path / "assembly"
    (assembly / SYNTH_RECORD).write_text("{broken")
    with pytest.raises(EngineFailure, match="synthesize the app again"):
        CdkNagEngine().grade(assembly, EngineOptions())
    (assembly / SYNTH_RECORD).write_text(json.dumps({"cdk_nag": {"status": "ok", "major": 3}}))
    (assembly / "validation-report.json").write_text("[]")
    with pytest.raises(EngineFailure, match="is not a JSON object"):
        CdkNagEngine().grade(assembly, EngineOptions())
    (assembly / "validation-report.json").write_text("{")
    with pytest.raises(EngineFailure, match="report .* is unreadable"):
        CdkNagEngine().grade(assembly, EngineOptions())
    (assembly / "validation-report.json").unlink()  # a clean app: no plugin reported anything
    assert CdkNagEngine().grade(assembly, EngineOptions()).findings == []


def test_violations_outside_any_template_and_unmapped_rules(tmp_path):
    assembly = copy_assembly(tmp_path, {"cdk_nag": {"status": "ok", "major": 3, "version": "3.0.2"}})
    report = {"pluginReports": [{"pluginName": "HIPAA.Security", "violations": [{
        "ruleName": "HIPAA.Security-Made-Up", "description": "", "severity": "warning",
        "violatingConstructs": [{"constructPath": "Elsewhere/Thing/Resource"}]}]}]}
    (assembly / "validation-report.json").write_text(json.dumps(report))
    result = CdkNagEngine().grade(assembly, EngineOptions())
    (finding,) = result.findings
    assert (finding.stack, finding.logical_id, finding.severity, finding.category) == ("Elsewhere", None, "medium", "security")
    assert finding.message == "HIPAA.Security-Made-Up is not met." and finding.source is None
    assert result.unmapped == {"HIPAA.Security-Made-Up"} and result.evaluated == set()


def test_split_rule():
    assert split_rule("AwsSolutions-IAM5[Action::s3:*]") == ("AwsSolutions-IAM5", "Action::s3:*")
    assert split_rule("AwsSolutions-SQS3") == ("AwsSolutions-SQS3", None)


def installed_rule_ids(pack_file: str) -> set[str]:
    """Every rule id a pack of the installed cdk-nag applies, read from its jsii tarball."""
    tarball = next((Path(cdk_nag.__file__).parent / "_jsii").glob("cdk-nag@*.jsii.tgz"))
    with tarfile.open(tarball) as archive:
        source = archive.extractfile(f"package/lib/packs/{pack_file}").read().decode()
    pack = re.search(r"this\.packName = '([^']+)'", source).group(1)
    ids = set()
    for block in re.findall(r"this\.applyRule\(\{(.*?)\}\);", source, re.S):
        override = re.search(r"ruleSuffixOverride: '([^']+)'", block)
        suffix = override.group(1) if override else re.search(r"rule: [\w$]+\.(\w+)", block).group(1)
        ids.add(f"{pack}-{suffix}")
    return ids


@pytest.mark.parametrize(("pack_file", "at_least"), [("aws-solutions.js", 120), ("serverless.js", 15)])
def test_every_awssolutions_and_serverless_rule_has_a_mapping_row(pack_file, at_least):
    ids = installed_rule_ids(pack_file)
    assert len(ids) >= at_least  # the extraction itself works
    assert sorted(ids - set(table("cdk-nag")["rules"])) == []


def test_prepare_without_cdk_nag_is_empty(monkeypatch):
    def not_found(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", not_found)
    assert CdkNagEngine().prepare() == ""
