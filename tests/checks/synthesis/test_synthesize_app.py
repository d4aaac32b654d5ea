"""synthesize_app on real fixture apps, in real environments (cdk-nag 3, cdk-nag 2, none)."""

from __future__ import annotations

import json
import sys
import time

import pytest

from checks.engines import SYNTH_RECORD
from checks.synthesis import AppInputError, SynthError, read_record, source_of, synthesize_app
from tests.checks.synthesis.envs import APPS, line_of, nag2_python, no_nag_python, synthesized

STACK_PY = APPS / "small_service" / "small_service" / "stack.py"


def test_small_service_synthesizes_with_cdk_nag_3_and_records_source_lines():
    result = synthesized("small_service")
    assert result.nag == {"status": "ok", "version": "3.0.2", "major": 3, "packs": ["AwsSolutions", "Serverless"],
                          "error": None, "reason": None}
    assert (result.assembly / "validation-report.json").is_file() and result.name == "small_service"
    record = read_record(result.assembly)
    assert record["app"]["target"] == "app.py"
    queue_line = line_of(STACK_PY, "queue = sqs.Queue(")
    assert source_of(record, "SmallService/Jobs/Resource") == ("small_service/stack.py", queue_line)
    assert source_of(record, "SmallService/Orders") == ("small_service/stack.py", line_of(STACK_PY, "dynamodb.Table("))
    # The user's own Stack class: the line that instantiated it, not its super().__init__.
    assert source_of(record, "SmallService") == ("app.py", line_of(APPS / "small_service" / "app.py", "SmallServiceStack("))


def test_cdk_nag_2_environment_writes_nag_reports():
    result = synthesized("nag2_service", nag2_python())
    assert result.nag["status"] == "ok" and result.nag["major"] == 2 and result.nag["version"] == "2.38.2"
    assert sorted(p.name for p in result.assembly.glob("*-NagReport.json")) == [
        "AwsSolutions--LegacyQueues-NagReport.json", "Serverless--LegacyQueues-NagReport.json"]


def test_environment_without_cdk_nag_synthesizes_and_records_it_missing(tmp_path):
    result = synthesize_app(APPS / "small_service", tmp_path / "out", python=no_nag_python())
    assert (result.assembly / "SmallService.template.json").is_file()
    assert result.nag["status"] == "missing"
    assert "pip install cdk-nag" in result.nag["error"] and "--skip cdk-nag" in result.nag["error"]


def test_nag_packs_none_skips_cdk_nag(tmp_path):
    result = synthesize_app(APPS / "small_service", tmp_path / "out", python=sys.executable, nag_packs=None,
                            context={"service_name": "billing"})
    assert result.nag["status"] == "skipped" and not (result.assembly / "validation-report.json").exists()
    template = json.loads((result.assembly / "SmallService.template.json").read_text())
    assert template["Resources"]["Alerts91F83244"]["Properties"]["TopicName"] == "billing-alerts"


def test_a_cdk_nag_2_app_under_cdk_nag_3_fails_with_its_error_and_a_hint(tmp_path):
    with pytest.raises(SynthError) as raised:
        synthesize_app(APPS / "nag2_service", tmp_path / "out", python=sys.executable)
    message = str(raised.value)
    assert "python app.py` failed in" in message and "exit status 1" in message
    assert "ImportError: cannot import name 'NagSuppressions'" in message
    assert "runner.py" not in message  # the app's traceback, not ours
    assert "environment that has `cdk-nag<3`" in message


def test_an_app_with_no_stacks_is_an_input_error(tmp_path):
    # Also the `python -u -m pkg.mod args` form: the module asserts it got its arguments.
    with pytest.raises(AppInputError, match="the app synthesized no stacks"):
        synthesize_app(APPS / "empty_module", tmp_path / "out", python=sys.executable)


def test_a_hanging_app_is_stopped_at_the_timeout(tmp_path):
    started = time.perf_counter()
    with pytest.raises(SynthError, match="did not finish within 2 s; it was stopped"):
        synthesize_app(APPS / "sleeper", tmp_path / "out", python=sys.executable, timeout=2)
    assert time.perf_counter() - started < 10


def test_a_python_without_aws_cdk_says_to_name_the_apps_environment(tmp_path):
    with pytest.raises(SynthError, match="aws-cdk-lib cannot be imported by .*run with --python"):
        synthesize_app(APPS / "small_service", tmp_path / "out", python=sys._base_executable)


def test_a_non_python_app_runs_unchanged_and_cdk_nag_is_skipped(tmp_path):
    result = synthesize_app(APPS / "not_python", tmp_path / "out")
    assert result.nag["status"] == "skipped" and result.nag["reason"].startswith("not a Python app")
    assert json.loads((result.assembly / SYNTH_RECORD).read_text())["sources"] == {}


def test_outdir_must_be_new_empty_or_an_assembly(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep me")
    with pytest.raises(AppInputError, match="is not a cloud assembly; choose an empty or new directory"):
        synthesize_app(APPS / "not_python", tmp_path / "notes")
    assert (tmp_path / "notes" / "todo.txt").exists()
    stale = tmp_path / "stale"
    synthesize_app(APPS / "not_python", stale)
    (stale / "validation-report.json").write_text("{}")
    synthesize_app(APPS / "not_python", stale)
    assert not (stale / "validation-report.json").exists()


def test_unknown_packs_and_unrunnable_interpreters(tmp_path):
    with pytest.raises(AppInputError, match="unknown cdk-nag packs"):
        synthesize_app(APPS / "not_python", tmp_path / "out", nag_packs=("AwsSolutions", "Nope"))
    with pytest.raises(AppInputError, match="cannot run"):
        synthesize_app(APPS / "small_service", tmp_path / "out", python=str(tmp_path / "no-python"))
