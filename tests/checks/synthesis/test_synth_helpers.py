"""Small pieces of the synthesis: environment, assembly checks, worker bookkeeping, runner details."""

from __future__ import annotations

import json
import sys

import aws_cdk

from checks.synthesis import runner, synth
from reference_stacks.jsii_node import PROJECT_NODE
from tests.checks.synthesis.envs import APPS


def test_environment_is_the_clis_offline_one(monkeypatch, tmp_path):
    for name in ("JSII_NODE", "CDK_DEFAULT_REGION", "AWS_REGION", "AWS_DEFAULT_REGION", "CDK_DEFAULT_ACCOUNT"):
        monkeypatch.delenv(name, raising=False)
    env = synth.synth_environment(tmp_path, {"a": 1})
    assert (env["CDK_OUTDIR"], json.loads(env["CDK_CONTEXT_JSON"])) == (str(tmp_path), {"a": 1})
    assert (env["CDK_DEFAULT_REGION"], env["CDK_DEFAULT_ACCOUNT"], env["CDK_VALIDATION"]) == \
        ("us-east-1", "000000000000", "false")
    assert env["JSII_NODE"] == str(PROJECT_NODE)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert synth.synth_environment(None, None)["CDK_DEFAULT_REGION"] == "eu-west-1"


def test_has_stacks_looks_into_stage_assemblies(tmp_path):
    assert not synth.has_stacks(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"artifacts": {
        "assembly-Prod": {"type": "cdk:cloud-assembly", "properties": {"directoryName": "assembly-Prod"}}}}))
    (tmp_path / "assembly-Prod").mkdir()
    (tmp_path / "assembly-Prod" / "manifest.json").write_text(json.dumps({"artifacts": {
        "Prod-Api": {"type": "aws:cloudformation:stack"}}}))
    assert synth.has_stacks(tmp_path)


def test_worker_bookkeeping_without_a_process():
    worker = synth._Worker([], None, {})
    assert worker.receive(None) == [] and worker._stderr_tail() == ""
    worker.stop()


def test_an_apps_own_outdir_is_kept():
    hooks = runner.Hooks(runner.Nag(None), ".", "/elsewhere")
    args = [aws_cdk.AppProps(outdir="mine")]
    assert hooks._with_outdir(args) is args
    assert hooks._with_outdir(None)[0].outdir == "/elsewhere"


def test_module_apps_run_in_process(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    job = {"app_dir": str(APPS / "empty_module"), "outdir": str(tmp_path), "target": "service.main",
           "module": True, "args": ["--region-hint", "eu-west-1"], "packs": None}
    try:
        assert runner.run_app(job) == 0
    finally:
        for name in ("service", "service.main"):
            sys.modules.pop(name, None)
    assert sys.path[0] == str(APPS / "empty_module")


def test_run_by_path_the_runner_folder_leaves_sys_path(monkeypatch, capsys):
    monkeypatch.setattr(sys, "path", [runner.os.path.dirname(runner.RUNNER_FILE), *sys.path])
    monkeypatch.setitem(sys.modules, "aws_cdk", None)
    assert runner.main(["--job", json.dumps({"app_dir": "/the/app"})]) == 3
    assert sys.path[0] == "/the/app"
