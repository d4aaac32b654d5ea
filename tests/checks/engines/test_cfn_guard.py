"""The cfn-guard engine: locating and extracting the bundled binary, and real cfn-guard runs on fixtures."""

from __future__ import annotations

import io
import json
import multiprocessing
import stat
import tarfile
from pathlib import Path

import pytest

from checks.assembly import Assembly
from checks.config import StackgradeConfig
from checks.engines import EngineFailure, EngineMissing, EngineOptions
from checks.engines import cfn_guard
from checks.engines.cfn_guard import (
    CfnGuardEngine,
    cache_root,
    control_tower_files,
    control_tower_rules,
    guard_version,
    install,
    interpret,
    package_tarball,
    platform_build,
    publish,
    validate,
)
from checks.finding import fingerprint
from rules.guard import guard_rules

FIXTURES = Path(__file__).parent / "fixtures" / "guard"
APP = FIXTURES / "app"
QUEUES = FIXTURES / "control-tower" / "Queues.template.json"


@pytest.fixture(scope="session")
def guard_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("guard-cache")


@pytest.fixture(scope="session")
def engine(guard_cache) -> CfnGuardEngine:
    engine = CfnGuardEngine(cache_dir=guard_cache)
    engine.prepare()
    return engine


def pairs(result) -> set[tuple[str, str | None]]:
    return {(f.rule_id, f.logical_id) for f in result.findings}


# --- locating and extracting --------------------------------------------------------------------


def test_install_extracts_the_binary_and_control_tower_rules_once(tmp_path):
    found = install(tmp_path)
    version = package_tarball()[1]
    assert found.binary == tmp_path / "cfn-guard" / version / "cfn-guard"
    assert found.binary.stat().st_mode & stat.S_IXUSR
    guard_files = list(found.control_tower_rules.rglob("*.guard"))
    assert len(guard_files) > 200
    assert len(list(found.control_tower_metadata.rglob("*.metadata.json"))) == len(guard_files)
    assert guard_version(found.binary) == "3.1.1"
    before = found.binary.stat().st_mtime_ns
    assert install(tmp_path) == found
    assert found.binary.stat().st_mtime_ns == before  # reused, not extracted again
    assert [p.name for p in (tmp_path / "cfn-guard").iterdir()] == [version]  # no staging left behind


def test_concurrent_installs_agree_on_one_complete_directory(tmp_path):
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        installs = pool.map(install, [tmp_path] * 3)
    assert len(set(installs)) == 1
    assert guard_version(installs[0].binary) == "3.1.1"
    assert len(list((tmp_path / "cfn-guard").iterdir())) == 1


def test_an_incomplete_cache_directory_is_extracted_again(tmp_path):
    target = tmp_path / "cfn-guard" / package_tarball()[1]
    target.mkdir(parents=True)
    (target / "leftover").write_text("half an extraction")
    found = install(tmp_path)
    assert found.binary.is_file() and not (target / "leftover").exists()


def test_publish_lets_a_complete_copy_from_another_process_win(tmp_path):
    target, staging = tmp_path / "target", tmp_path / "staging"
    for folder, text in ((target, "theirs"), (staging, "ours")):
        for part in ("cfn-guard", "metadata"):
            (folder / "control-tower" / part).mkdir(parents=True)
        (folder / "cfn-guard").write_text(text)
    publish(staging, target)
    assert (target / "cfn-guard").read_text() == "theirs"
    (target / "cfn-guard").unlink()  # now the target is incomplete: that is an error, not a win
    with pytest.raises(OSError):
        publish(staging, target)


def test_cache_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("STACKGRADE_CACHE_DIR", str(tmp_path / "sg"))
    assert cache_root() == tmp_path / "sg"
    monkeypatch.delenv("STACKGRADE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "stackgrade"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "stackgrade"


def test_the_build_for_each_supported_platform():
    assert platform_build("Linux", "x86_64") == "ubuntu/x86_64"
    assert platform_build("Linux", "aarch64") == "ubuntu/aarch64"
    assert platform_build("Darwin", "arm64") == "macos/aarch64"
    assert platform_build("Darwin", "AMD64") == "macos/x86_64"
    assert platform_build() in {"ubuntu/x86_64", "ubuntu/aarch64", "macos/x86_64", "macos/aarch64"}
    with pytest.raises(EngineMissing, match="not for windows/amd64; skip the cfn-guard engine"):
        platform_build("Windows", "AMD64")
    with pytest.raises(EngineMissing, match="not for linux/riscv64"):
        platform_build("Linux", "riscv64")


@pytest.mark.parametrize("module", ["cdklabs.no_such_validator", "no_such_namespace.validator", "json.decoder"])
def test_a_missing_package_says_how_to_install_it(monkeypatch, module):
    monkeypatch.setattr(cfn_guard, "PACKAGE_MODULE", module)
    with pytest.raises(EngineMissing, match=r"not installed: install the Python package cdklabs\.cdk-validator"):
        package_tarball()


def _fake_package(tmp_path, monkeypatch, name: str) -> Path:
    """An importable package ``name`` with an empty ``_jsii`` folder, standing in for the validator package."""
    package = tmp_path / "site" / name
    (package / "_jsii").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setattr(cfn_guard, "PACKAGE_MODULE", name)
    return package / "_jsii"


def _tarball(path: Path, members: dict[str, bytes], directories: tuple[str, ...] = ()) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name in directories:
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            archive.addfile(info)
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_a_package_without_the_jsii_tarball_is_reported(tmp_path, monkeypatch):
    jsii = _fake_package(tmp_path, monkeypatch, "fake_validator_a")
    with pytest.raises(EngineMissing, match=f"{jsii} holds no \\*.jsii.tgz"):
        package_tarball()


def test_a_tarball_without_a_build_for_this_platform_is_reported(tmp_path, monkeypatch):
    jsii = _fake_package(tmp_path, monkeypatch, "fake_validator_b")
    _tarball(jsii / "cdk-validator-cfnguard@9.9.9.jsii.tgz", {
        "package/bin/macos/x86_64/cfn-guard": b"#!/bin/sh\n",
        "package/rules/control-tower/cfn-guard/sqs/ct-sqs-pr-1.guard": b"rule x {}\n",
    })
    monkeypatch.setattr(cfn_guard, "PACKAGE_DIST", "no-such-distribution")  # the version comes from the file name
    assert package_tarball()[1] == "9.9.9"
    with pytest.raises(EngineMissing, match="holds no package/bin/ubuntu/aarch64/cfn-guard"):
        install(tmp_path / "cache", build="ubuntu/aarch64")
    assert not list((tmp_path / "cache" / "cfn-guard").iterdir())  # the staging copy is gone


def test_only_the_binary_and_the_rules_are_extracted(tmp_path, monkeypatch):
    jsii = _fake_package(tmp_path, monkeypatch, "fake_validator_c")
    _tarball(jsii / "cdk-validator-cfnguard@1.0.0.jsii.tgz", {
        "package/bin/ubuntu/x86_64/cfn-guard": b"#!/bin/sh\necho cfn-guard 0.0.1\n",
        "package/bin/macos/x86_64/cfn-guard": b"other platform",
        "package/rules/control-tower/cfn-guard/sqs/ct-sqs-pr-1.guard": b"rule x {}\n",
        "package/rules/control-tower/metadata/sqs/ct-sqs-pr-1.metadata.json": b"{}",
        "package/rules/control-tower/cfn-guard/../escape.guard": b"rule y {}\n",
        "package/rules/control-tower/cfn-guard/README.md": b"not a rule",
        "package/lib/index.js": b"",
    }, directories=("package/rules/control-tower/cfn-guard/sqs",))
    found = install(tmp_path / "cache", build="ubuntu/x86_64")
    extracted = sorted(str(p.relative_to(found.binary.parent)) for p in found.binary.parent.rglob("*") if p.is_file())
    assert extracted == ["cfn-guard", "control-tower/cfn-guard/sqs/ct-sqs-pr-1.guard",
                         "control-tower/metadata/sqs/ct-sqs-pr-1.metadata.json"]
    assert not list((tmp_path / "cache").rglob("escape.guard"))
    assert guard_version(found.binary) == "0.0.1"


def test_a_corrupt_tarball_is_reported(tmp_path, monkeypatch):
    jsii = _fake_package(tmp_path, monkeypatch, "fake_validator_d")
    (jsii / "cdk-validator-cfnguard@1.0.1.jsii.tgz").write_bytes(b"not a gzip file")
    with pytest.raises(EngineMissing, match="cannot read the cfn-guard build .* reinstall cdklabs.cdk-validator"):
        install(tmp_path / "cache", build="ubuntu/x86_64")


def test_a_binary_that_cannot_run_or_fails_is_reported(tmp_path):
    with pytest.raises(EngineMissing, match="cannot run .*; delete .* to extract it again"):
        guard_version(tmp_path / "cfn-guard")
    with pytest.raises(EngineFailure, match="--version exited with 1"):
        guard_version(Path("/bin/false"))


# --- running cfn-guard --------------------------------------------------------------------------


def test_prepare_returns_the_version_and_grade_prepares_on_its_own(guard_cache):
    assert CfnGuardEngine(cache_dir=guard_cache).prepare() == "3.1.1"
    assert CfnGuardEngine.name == "cfn-guard"
    result = CfnGuardEngine(cache_dir=guard_cache).grade(APP, EngineOptions())
    assert result.findings


def test_our_rules_on_a_nested_assembly(engine):
    result = engine.grade(APP, EngineOptions())
    assert pairs(result) == {
        ("SG-BKT-001", "Logs"), ("SG-BKT-002", "Logs"), ("SG-BKT-002", "Exports"), ("SG-LMB-001", "Handler"),
        ("SG-ECS-001", "Service"), ("SG-ECS-002", "Cluster"), ("SG-WAF-002", "Acl"),
    }
    assert len(result.findings) == 8  # Handler fails in the top-level stack and in the nested one
    assert result.unmapped == set()
    by_key = {(f.rule_id, f.construct_path): f for f in result.findings}
    logs = by_key[("SG-BKT-001", "Shop-dev/Logs/Resource")]
    rule = next(r for r in guard_rules() if r.id == "SG-BKT-001")
    assert (logs.engine, logs.stack, logs.resource_type) == ("cfn-guard", "Shop-dev", "AWS::S3::Bucket")
    assert (logs.title, logs.severity, logs.category, logs.concerns) == (rule.title, "high", "security", ("iam",))
    assert logs.message == "Bucket does not turn on all four Block Public Access settings, so an ACL or a bucket " \
                           "policy can still make its objects public."
    assert logs.remediation == rule.remediation
    assert logs.fingerprint == fingerprint("SG-BKT-001", "Shop-dev", "Logs")
    assert not logs.suppressed
    top = by_key[("SG-LMB-001", "Shop-dev/Handler/Resource")]
    nested = by_key[("SG-LMB-001", "Shop-dev/Ops/Handler/Resource")]
    assert top.stack == nested.stack == "Shop-dev"
    assert nested.fingerprint == fingerprint("SG-LMB-001", "Shop-dev/Ops", "Handler") != top.fingerprint
    assert by_key[("SG-ECS-001", "Shop-dev/Ops/Service/Service")].category == "reliability"


def test_suppressed_rules_in_resource_metadata_mark_findings_without_a_reason(engine):
    result = engine.grade(APP, EngineOptions())
    suppressed = {(f.rule_id, f.construct_path, f.suppression_reason) for f in result.findings if f.suppressed}
    assert suppressed == {
        ("SG-BKT-002", "Shop-dev/Exports/Resource", None),  # listed by Guard rule name
        ("SG-LMB-001", "Shop-dev/Ops/Handler/Resource", None),  # listed by stackgrade id, as a single string
    }


def test_evaluated_holds_every_resource_a_rule_examined(engine):
    result = engine.grade(APP, EngineOptions())
    assert result.evaluated == {
        ("Shop-dev", "Logs", "security"), ("Shop-dev", "Archive", "security"), ("Shop-dev", "Exports", "security"),
        ("Shop-dev", "Logs", "cost"), ("Shop-dev", "Archive", "cost"), ("Shop-dev", "Exports", "cost"),
        ("Shop-dev", "Handler", "operations"), ("Shop-dev", "Fresh", "operations"),
        ("Shop-dev/Ops", "Handler", "operations"), ("Shop-dev/Ops", "Service", "reliability"),
        ("Shop-dev/Ops", "Cluster", "observability"), ("Shop-dev/Ops", "Acl", "security"),
    }


def test_disabled_rules_are_not_run(engine):
    config = StackgradeConfig(rules={"SG-LMB-001": False, "SG-BKT-002": False})
    assert pairs(engine.grade(APP, EngineOptions(config=config))) == {
        ("SG-BKT-001", "Logs"), ("SG-ECS-001", "Service"), ("SG-ECS-002", "Cluster"), ("SG-WAF-002", "Acl"),
    }
    nothing = StackgradeConfig(rules={rule.id: False for rule in guard_rules()})
    result = engine.grade(APP, EngineOptions(config=nothing))
    assert (result.findings, result.evaluated) == ([], set())


def test_control_tower_rules_are_opt_in(engine):
    assert pairs(engine.grade(QUEUES, EngineOptions())) == set()
    result = engine.grade(QUEUES, EngineOptions(guard_control_tower=True))
    assert pairs(result) == {
        ("sqs_dlq_check", "Orders"), ("sqs_dlq_check", "PaymentsDlq"), ("sqs_queue_encrypted_check", "Orders"),
        ("s3_bucket_default_encryption_kms_check", "Reports"), ("s3_bucket_logging_enabled_check", "Reports"),
        ("s3_bucket_object_lock_enabled_check", "Reports"), ("s3_bucket_versioning_enabled_check", "Reports"),
        ("s3_event_notifications_enabled_check", "Reports"), ("kms_create_grant_aws_service_check", "QueueKey"),
    }
    # Its helper rules compare literals at no path; that adds no second, stack-level finding.
    assert [f.logical_id for f in result.findings if f.rule_id == "kms_create_grant_aws_service_check"] == ["QueueKey"]
    assert result.unmapped == {"s3_bucket_object_lock_enabled_check", "s3_event_notifications_enabled_check"}
    dlq = next(f for f in result.findings if f.rule_id == "sqs_dlq_check" and f.logical_id == "Orders")
    assert (dlq.severity, dlq.category, dlq.concerns, dlq.stack) == ("high", "reliability", ("dlq",), "Queues")
    assert dlq.title == "Require any Amazon SQS queue to have a dead-letter queue configured"
    assert dlq.message == ("Fails Control Tower control CT.SQS.PR.1: Require any Amazon SQS queue to have a "
                           "dead-letter queue configured (RedrivePolicy is missing).")
    assert dlq.remediation.startswith("Create a 'RedrivePolicy' with a 'deadLetterTargetArn'")
    assert dlq.construct_path == "Queues/Orders/Resource"
    suppressed = [(f.rule_id, f.logical_id) for f in result.findings if f.suppressed]
    assert suppressed == [("sqs_dlq_check", "PaymentsDlq")]
    unmapped = next(f for f in result.findings if f.rule_id == "s3_event_notifications_enabled_check")
    assert (unmapped.severity, unmapped.category, unmapped.concerns) == ("medium", "security", ())
    assert ("Queues", "Payments", "reliability") in result.evaluated  # passed sqs_dlq_check


def test_control_tower_and_our_rules_together(engine):
    result = engine.grade(APP, EngineOptions(guard_control_tower=True))
    ours = {(f.rule_id, f.logical_id) for f in result.findings if f.rule_id.startswith("SG-")}
    assert ours == pairs(engine.grade(APP, EngineOptions()))
    assert ("s3_bucket_level_public_access_prohibited_check", "Logs") in pairs(result)
    assert ("wafv2_webacl_not_empty_check", "Acl") in pairs(result)


def test_control_tower_rules_are_described_by_their_metadata(engine, tmp_path):
    rules = control_tower_rules(engine._install.control_tower)
    assert len(rules) > 200
    assert rules["sqs_dlq_check"] == cfn_guard.ControlTowerRule(
        name="sqs_dlq_check", path=engine._install.control_tower_rules / "sqs" / "ct-sqs-pr-1.guard",
        control_id="CT.SQS.PR.1", title="Require any Amazon SQS queue to have a dead-letter queue configured",
        severity="HIGH", applies_to=("AWS::SQS::Queue",), remediation=rules["sqs_dlq_check"].remediation)
    assert rules["sqs_dlq_check"].remediation.startswith("Create a 'RedrivePolicy'")
    for name, text in (("helpers", "rule check(x) { %x exists }\n"),
                       ("bare", "rule bare_check { Resources exists }\n")):
        (tmp_path / "cfn-guard" / "svc").mkdir(parents=True, exist_ok=True)
        (tmp_path / "cfn-guard" / "svc" / f"{name}.guard").write_text(text)
    (tmp_path / "metadata" / "svc").mkdir(parents=True)
    (tmp_path / "metadata" / "svc" / "bare.metadata.json").write_text("not json")
    bare = tmp_path / "cfn-guard" / "svc" / "bare.guard"
    assert control_tower_rules(tmp_path) == {"bare_check": cfn_guard.ControlTowerRule("bare_check", bare)}


def test_only_control_tower_rules_for_present_resource_types_are_run(engine):
    rules = control_tower_rules(engine._install.control_tower)
    files = control_tower_files(rules, {"AWS::SQS::Queue", "AWS::Custom::Thing"})
    assert {path.name for path in files} == {"ct-sqs-pr-1.guard", "ct-sqs-pr-2.guard"}
    untyped = {"bare": cfn_guard.ControlTowerRule("bare", Path("bare.guard")),
               "gone": cfn_guard.ControlTowerRule("gone")}
    assert control_tower_files(untyped, set()) == [Path("bare.guard")]  # no types listed: always run


def test_a_rule_that_fails_the_whole_template_gives_a_stack_level_finding(engine, tmp_path):
    rule = tmp_path / "described.guard"
    rule.write_text("rule described { Description exists }\n")
    template = QUEUES.resolve()
    stack = Assembly.load(template).stacks[0]
    result = interpret(validate(engine._install.binary, [rule], [template]), {template: stack}, {}, {})
    (finding,) = result.findings
    assert (finding.rule_id, finding.logical_id, finding.resource_type, finding.construct_path) == \
        ("described", None, None, None)
    assert finding.title == "described" and finding.message == "Fails the cfn-guard rule described."
    assert finding.remediation == "See the documentation of the cfn-guard rule described."
    assert result.unmapped == {"described"} and result.evaluated == set()


def test_cfn_guard_errors_carry_its_output(engine, tmp_path):
    with pytest.raises(EngineFailure, match="cfn-guard validate exited with 255: .*does not exist"):
        validate(engine._install.binary, [guard_rules()[0].path], [tmp_path / "missing.json"])
    with pytest.raises(EngineFailure, match="cfn-guard printed output stackgrade cannot read"):
        validate(Path("/bin/echo"), [], [])


def test_interpret_rejects_output_it_cannot_place():
    with pytest.raises(EngineFailure, match="printed dict instead of a list"):
        interpret({}, {}, {}, {})
    with pytest.raises(EngineFailure, match="reported on '/elsewhere.json', which is not a template it was given"):
        interpret([{"name": "/elsewhere.json"}], {}, {}, {})


def test_interpret_reads_empty_objects_as_empty_lists_and_long_values_shortened():
    stack = Assembly.from_templates({"S": {"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}}).stacks[0]
    path = Path("/t.json")
    failure = {"Rule": {"name": "sqs_dlq_check", "checks": [{"Clause": {"Binary": {
        "messages": {"custom_message": "[CT.SQS.PR.1]: Require a DLQ", "error_message": None},
        "check": {"Resolved": {"from": {"path": "/Resources/Q/Properties/Tags", "value": "x" * 80}}}}}},
        {"Clause": {"Unary": {"check": {"Resolved": {"from": {"path": "/Resources/Q/Properties", "value": {}}}}}}}]}}
    result = interpret([{"name": str(path), "not_compliant": {"0": failure}, "compliant": {}}], {path: stack}, {}, {})
    (finding,) = result.findings
    assert finding.message == f"Fails Control Tower control CT.SQS.PR.1: Require a DLQ (Tags is \"{'x' * 56}...)."
    assert finding.remediation == "See the Control Tower control CT.SQS.PR.1."


def test_more_than_three_details_are_cut_short(engine, tmp_path):
    template = tmp_path / "Bucket.template.json"
    template.write_text(json.dumps({"Resources": {"B": {"Type": "AWS::S3::Bucket", "Properties": {
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": False, "BlockPublicPolicy": False,
                                           "IgnorePublicAcls": False, "RestrictPublicBuckets": False}}}}}))
    result = engine.grade(template, EngineOptions(guard_control_tower=True))
    (finding,) = [f for f in result.findings if f.rule_id == "s3_bucket_level_public_access_prohibited_check"]
    assert finding.message.count(" is false") == 3 and finding.message.endswith("; ...).")
