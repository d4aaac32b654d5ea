"""The runner's hooks, run in this process (the subprocess runs are in test_synthesize_app.py)."""

from __future__ import annotations

import importlib
import json
import sys
import textwrap

import pytest

from checks.synthesis import runner
from tests.checks.synthesis.envs import APPS, line_of


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """sys.path/argv restored, CDK_OUTDIR set: the runner runs apps in the process it is in."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    monkeypatch.setenv("CDK_OUTDIR", str(tmp_path / "out"))
    monkeypatch.setenv("CDK_CONTEXT_JSON", json.dumps({"aws:cdk:enable-path-metadata": True}))
    return tmp_path / "out"


def job(app_dir, outdir, target="app.py", **extra):
    return {"mode": "app", "app_dir": str(app_dir), "outdir": str(outdir), "target": target,
            "packs": ["AwsSolutions", "Serverless"], **extra}


def write_app(tmp_path, body: str):
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "app.py").write_text(textwrap.dedent(body))
    return app_dir


def test_main_runs_an_app_with_hooks_and_restores_everything(isolated):
    import jsii

    create = jsii.create
    assert runner.main(["--job", json.dumps(job(APPS / "small_service", isolated))]) == 0
    assert jsii.create is create  # hooks removed
    record = json.loads((isolated / runner.RECORD).read_text())
    stack_py = APPS / "small_service" / "small_service" / "stack.py"
    assert record["sources"]["SmallService/Jobs"] == {"file": "small_service/stack.py",
                                                      "line": line_of(stack_py, "queue = sqs.Queue(")}
    report = json.loads((isolated / "validation-report.json").read_text())
    suppressed = {v["acknowledgedId"] for p in report["pluginReports"] for v in p.get("suppressedViolations") or []}
    assert suppressed == {"AwsSolutions::AwsSolutions-SQS4", "AwsSolutions::AwsSolutions-SNS3"}


def test_an_app_that_never_synthesizes_is_synthesized_and_sys_exit_0_is_success(tmp_path, isolated):
    app_dir = write_app(tmp_path, """
        import sys
        import aws_cdk as cdk
        from aws_cdk import aws_sqs as sqs
        app = cdk.App()
        sqs.Queue(cdk.Stack(app, "Quiet"), "Q")
        sys.exit(0)
    """)
    assert runner.run_app(job(app_dir, isolated, packs=None)) == 0
    record = json.loads((isolated / runner.RECORD).read_text())
    assert record["cdk_nag"]["status"] == "skipped" and record["sources"]["Quiet/Q"]["file"] == "app.py"
    assert (isolated / "Quiet.template.json").is_file()


def test_app_errors_and_exit_statuses(tmp_path, isolated, capsys):
    app_dir = write_app(tmp_path, "raise ValueError('no config for stage prod')\n")
    assert runner.run_app(job(app_dir, isolated)) == 1
    err = capsys.readouterr().err
    assert "ValueError: no config for stage prod" in err and "runner.py" not in err
    (app_dir / "app.py").write_text("import sys\nsys.exit(3)\n")
    assert runner.run_app(job(app_dir, isolated)) == 3
    (app_dir / "app.py").write_text("import sys\nsys.exit('bad stage')\n")
    assert runner.run_app(job(app_dir, isolated)) == 1
    assert "exited with status bad stage" in capsys.readouterr().err


def test_a_construct_validation_error_is_not_mistaken_for_cdk_nag(tmp_path, isolated, capsys):
    app_dir = write_app(tmp_path, """
        import aws_cdk as cdk, constructs, jsii

        @jsii.implements(constructs.IValidation)
        class Broken:
            def validate(self):
                return ["the widget needs a name"]

        app = cdk.App()
        cdk.Stack(app, "S").node.add_validation(Broken())
    """)
    assert runner.run_app(job(app_dir, isolated, packs=None)) == 1
    assert "the widget needs a name" in capsys.readouterr().err


def test_references_mode_reports_each_build(tmp_path, isolated, capsys):
    builds = [{"system": "order_pipeline", "variant": "baseline", "suffix": "qa7", "outdir": str(tmp_path / "a")},
              {"system": "order_pipeline", "variant": "nope", "suffix": "qa7", "outdir": str(tmp_path / "b")}]
    references = {"mode": "references", "app_dir": str(runner.os.getcwd()), "builds": builds, "packs": ["Serverless"]}
    assert runner.main(["--job", json.dumps(references)]) == 0
    lines = [json.loads(line[len(runner.DONE_MARK):]) for line in capsys.readouterr().out.splitlines()
             if line.startswith(runner.DONE_MARK)]
    assert [line["error"] is None for line in lines] == [True, False] and "nope" in lines[1]["error"]
    record = json.loads((tmp_path / "a" / runner.RECORD).read_text())
    assert record["app"]["system"] == "order_pipeline" and record["cdk_nag"]["packs"] == ["Serverless"]
    assert any(entry["file"].startswith("reference_stacks/") for entry in record["sources"].values())


def test_cdk_nag_states(monkeypatch):
    assert runner.Nag(None).section()["status"] == "skipped"
    assert runner.Nag(["Nope"]).error == "cdk-nag 3.0.2 has no pack named Nope"
    monkeypatch.setitem(sys.modules, "cdk_nag", None)
    missing = runner.Nag(["AwsSolutions"])
    assert missing.status == "missing" and "pip install cdk-nag" in missing.error
    missing.add_to(object())  # nothing to add
    monkeypatch.delitem(sys.modules, "cdk_nag")

    def broken(name):
        raise RuntimeError("jsii runtime could not start")

    monkeypatch.setattr(importlib, "import_module", broken)
    assert runner.Nag(["AwsSolutions"]).error == "cdk-nag failed to import: RuntimeError: jsii runtime could not start"


def test_without_aws_cdk_main_says_which_python_to_use(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "aws_cdk", None)
    assert runner.main(["--job", json.dumps({"app_dir": "."})]) == 3
    assert "run with --python" in capsys.readouterr().err


def test_user_frame_of_no_user_code_is_none():
    hooks = runner.Hooks(runner.Nag(None), ".")
    assert hooks.user_frame(None, object()) is None
