"""The stackgrade command: targets, options, exit codes, and a real four-engine grade of a small template."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from checks import cli
from checks.cli import EXIT_ERROR, EXIT_GATE_FAILED, EXIT_OK, UsageError, main, resolve_targets
from checks.orchestrator import Target

FIXTURES = Path(__file__).parents[1] / "plugin_fixtures"
QUEUES = FIXTURES / "queues.yaml"
ROOT = Path(__file__).parents[2]
SMALL_APP = ROOT / "tests" / "fixtures" / "apps" / "small_service"


def _grade(tmp_path: Path, *args: str, command: str = "grade") -> int:
    return main([command, *args, "--build-dir", str(tmp_path / "build"), "--cache-dir", str(tmp_path / "cache"), "-q"])


def test_resolve_reference_names_paths_and_all():
    assert [t.name for t in resolve_targets(["payments_dr-ideal"])] == ["payments_dr-ideal"]
    assert [t.name for t in resolve_targets(["payments_dr"])] == ["payments_dr-ideal", "payments_dr-baseline"]
    assert len(resolve_targets(["references"])) == 10
    target = resolve_targets([str(QUEUES)])[0]
    assert (target.kind, target.name, target.path) == ("assembly", "queues", QUEUES.resolve())


def test_resolve_app_and_assembly_directories(tmp_path):
    app = tmp_path / "shop"
    app.mkdir()
    (app / "cdk.json").write_text('{"app": "python3 app.py"}')
    cdk_out = tmp_path / "cdk.out"
    cdk_out.mkdir()
    (cdk_out / "manifest.json").write_text("{}")
    assert [(t.kind, t.name) for t in resolve_targets([str(app), str(cdk_out)])] == [("app", "shop"),
                                                                                    ("assembly", "cdk.out")]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["no-such-thing"], "is not a path that exists, nor a reference system"),
        (["payments_dr-ideal", "payments_dr-ideal"], "two targets share the name"),
    ],
)
def test_resolve_rejects(arguments, message):
    with pytest.raises(UsageError, match=message):
        resolve_targets(arguments)


def test_resolve_rejects_plain_dirs_and_other_files(tmp_path):
    with pytest.raises(UsageError, match="neither a CDK app directory"):
        resolve_targets([str(tmp_path)])
    readme = tmp_path / "notes.txt"
    readme.write_text("x")
    with pytest.raises(UsageError, match="not a CloudFormation template"):
        resolve_targets([str(readme)])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--nag-packs", "Nope"], "--nag-packs: unknown ['Nope']"),
        (["--timeout", "0"], "--timeout must be a positive"),
        (["--jobs", "0"], "--jobs must be at least 1"),
        (["--min-score", "11"], "--min-score must be between 0 and 10"),
        (["-c", "novalue"], "context 'novalue' must look like key=value"),
        (["--config", "missing.toml"], "--config missing.toml: no such file"),
    ],
)
def test_usage_errors_exit_2_with_a_message(tmp_path, capsys, options, message):
    assert _grade(tmp_path, str(QUEUES), *options) == EXIT_ERROR
    assert message in capsys.readouterr().err.replace("\n", "")


def test_config_file_must_be_named_like_one(tmp_path, capsys):
    other = tmp_path / "other.toml"
    other.write_text("")
    assert _grade(tmp_path, str(QUEUES), "--config", str(other)) == EXIT_ERROR
    assert "name it stackgrade.toml or pyproject.toml" in capsys.readouterr().err


def test_baseline_file_needs_one_target(tmp_path, capsys):
    baseline = tmp_path / "scorecard.json"
    baseline.write_text("{}")
    assert _grade(tmp_path, str(QUEUES), "payments_dr-ideal", "--baseline", str(baseline)) == EXIT_ERROR
    assert "--baseline FILE is for one target" in capsys.readouterr().err


def test_grade_a_template_with_every_engine(tmp_path, capsys):
    assert _grade(tmp_path, str(QUEUES)) == EXIT_OK
    card = json.loads((tmp_path / "build" / "reports" / "queues" / "scorecard.json").read_text())
    engines = {e["name"]: e for e in card["engines"]}
    assert {n: e["status"] for n, e in engines.items()} == {
        "stackgrade": "ok", "cdk-nag": "skipped", "checkov": "ok", "cfn-guard": "ok"}
    reports = tmp_path / "build" / "reports" / "queues"
    assert sorted(p.name for p in reports.iterdir()) == ["junit.xml", "scorecard.json", "scorecard.md", "scorecard.sarif"]
    assert (reports / "scorecard.md").read_text().startswith("**stackgrade: FAIL**")
    assert "existing cloud assembly" in engines["cdk-nag"]["error"]
    dlq = {f["logical_id"] for f in card["findings"] if f["rule_id"] == "SG-DLQ-001"}
    assert dlq == {"Orders", "Payments"}
    out = capsys.readouterr().out
    assert "queues" in out and "scorecard.json" in out

    # The gate fails (high-severity DLQ findings) with exit 1; the cache answers the second run.
    assert _grade(tmp_path, str(QUEUES), command="gate") == EXIT_GATE_FAILED
    card = json.loads((tmp_path / "build" / "reports" / "queues" / "scorecard.json").read_text())
    assert all(e["cached"] for e in card["engines"] if e["status"] == "ok")

    # With its own scorecard as the baseline nothing is new, so the gate passes.
    baseline = tmp_path / "baseline.json"
    baseline.write_text((tmp_path / "build" / "reports" / "queues" / "scorecard.json").read_text())
    assert _grade(tmp_path, str(QUEUES), "--baseline", str(baseline), command="gate") == EXIT_OK


def test_engine_timeout_fails_the_gate_with_exit_2_naming_it(tmp_path):
    # A fresh process: checkov needs about 2.5 s to import, so with a 0.5 s timeout it really times out.
    done = subprocess.run(
        [sys.executable, "-m", "checks.cli", "gate", str(QUEUES), "--timeout", "0.5", "--skip", "cfn-guard",
         "--no-cache", "-q", "--build-dir", str(tmp_path / "build")],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert done.returncode == EXIT_ERROR, done.stdout + done.stderr
    assert "engine error checkov: checkov timed out after 0.5 s while starting" in done.stdout
    assert "--skip checkov" in done.stdout


def test_grade_a_python_app_directory_then_from_the_cache(tmp_path, capsys):
    arguments = (str(SMALL_APP), "--python", sys.executable, "--skip", "checkov")
    assert _grade(tmp_path, *arguments) == EXIT_OK
    card = json.loads((tmp_path / "build" / "reports" / "small_service" / "scorecard.json").read_text())
    assert card["target"]["kind"] == "app"
    assert {e["name"]: e["status"] for e in card["engines"]}["cdk-nag"] == "ok"
    nag = [f for f in card["findings"] if f["engine"] == "cdk-nag" or "cdk-nag" in f["engines"]]
    assert nag and all(f["construct_path"] for f in nag)
    # Source lines point into the app's own code.
    assert any(f["source"] and f["source"]["file"].endswith(".py") for f in card["findings"])
    assert (tmp_path / "build" / "cdk.out" / "small_service" / "manifest.json").is_file()
    capsys.readouterr()

    assert _grade(tmp_path, *arguments) == EXIT_OK
    again = json.loads((tmp_path / "build" / "reports" / "small_service" / "scorecard.json").read_text())
    assert all(e["cached"] for e in again["engines"] if e["status"] == "ok")
    assert [f["fingerprint"] for f in again["findings"]] == [f["fingerprint"] for f in card["findings"]]


def test_an_app_that_fails_to_synthesize_is_an_input_error(tmp_path, capsys):
    app = tmp_path / "broken"
    app.mkdir()
    (app / "cdk.json").write_text('{"app": "python3 app.py"}')
    (app / "app.py").write_text("raise SystemExit('cannot build: missing setting ORDERS_TABLE')\n")
    assert _grade(tmp_path, str(app), "--python", sys.executable, "--no-cache") == EXIT_ERROR
    assert "missing setting ORDERS_TABLE" in capsys.readouterr().err


def test_skipping_an_engine_is_recorded(tmp_path):
    assert _grade(tmp_path, str(QUEUES), "--skip", "checkov", "--skip", "cfn-guard") == EXIT_OK
    card = json.loads((tmp_path / "build" / "reports" / "queues" / "scorecard.json").read_text())
    assert {e["name"]: e["status"] for e in card["engines"]}["checkov"] == "skipped"


def test_rules_lists_the_catalogue(capsys):
    assert main(["rules", "--format", "json"]) == EXIT_OK
    listed = json.loads(capsys.readouterr().out)
    assert {("SG-DLQ-001", "stackgrade"), ("SG-BKT-001", "cfn-guard")} <= {(r["id"], r["engine"]) for r in listed}
    assert main(["rules"]) == EXIT_OK
    assert "SG-DLQ-001" in capsys.readouterr().out


def test_target_describe_names_reference_parts():
    assert Target("reference", "x-ideal", system="x", variant="ideal").describe() == {
        "kind": "reference", "name": "x-ideal", "system": "x", "variant": "ideal"}
    assert cli.REFERENCES == "references"


def test_an_engine_crash_fails_the_gate_with_exit_2_and_says_what_to_do(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(cli.ENGINE_CLASSES, "checkov", "tests.checks.orchestration.fault_engines:CrashingEngine")
    code = main(["gate", str(QUEUES), "--build-dir", str(tmp_path / "build"), "--no-cache", "--skip", "cfn-guard"])
    assert code == EXIT_ERROR
    out = capsys.readouterr().out
    assert "queues: checkov error: checkov crashed: KeyError" in out  # the progress line
    assert "engine error checkov: checkov crashed: KeyError: 'results'" in out
    assert "--skip checkov" in out
    card = json.loads((tmp_path / "build" / "reports" / "queues" / "scorecard.json").read_text())
    assert not card["gate"]["passed"] and any("checkov" in reason for reason in card["gate"]["reasons"])


def test_settings_context_and_min_score_options(tmp_path, capsys):
    settings = tmp_path / "stackgrade.toml"
    settings.write_text('[rules]\n"SG-DLQ-001" = false\n')
    assert _grade(tmp_path, str(QUEUES), "--config", str(settings), "--min-score", "1.5", "-c", "stage=dev",
                  "--skip", "checkov", "--skip", "cfn-guard", "--no-cache") == EXIT_OK
    card = json.loads((tmp_path / "build" / "reports" / "queues" / "scorecard.json").read_text())
    assert card["gate"]["min_score"] == 1.5
    assert not [f for f in card["findings"] if f["rule_id"] == "SG-DLQ-001"]


def test_python_option_forms(tmp_path):
    assert cli._python(None) is None
    assert cli._python("sh").endswith("/sh")
    with pytest.raises(UsageError, match="not found on PATH"):
        cli._python("no-such-python-3.99")
    with pytest.raises(UsageError, match="no such file"):
        cli._python(str(tmp_path / "bin" / "python"))


def test_baseline_folder_gives_each_target_its_own(tmp_path):
    assert _grade(tmp_path, str(QUEUES), "--skip", "checkov", "--skip", "cfn-guard") == EXIT_OK
    baselines = tmp_path / "build" / "reports"
    targets = resolve_targets([str(QUEUES), "payments_dr-ideal"])
    found = cli._baselines(baselines, targets)
    assert found["queues"][1] == baselines / "queues" / "scorecard.json"
    assert found["payments_dr-ideal"] is None


def test_progress_lines_name_each_step(tmp_path, capsys):
    main(["grade", str(QUEUES), "--build-dir", str(tmp_path / "build"), "--no-cache", "--skip", "checkov"])
    out = capsys.readouterr().out
    assert "queues: assembly loaded" in out
    assert "queues: stackgrade " in out and "findings in" in out
    assert "queues: checkov skipped: skipped on request (--skip)" in out


def test_interrupt_exits_130(monkeypatch, capsys):
    def interrupted(*_args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "run_grade", interrupted)
    assert main(["grade", str(QUEUES)]) == 130
    assert "interrupted" in capsys.readouterr().err


def test_an_app_whose_cdk_json_names_no_app_is_a_clear_error(tmp_path, capsys):
    app = tmp_path / "shop"
    app.mkdir()
    (app / "cdk.json").write_text('{"context": {}}')
    assert _grade(tmp_path, str(app)) == EXIT_ERROR  # with the cache on: the key step defers to synthesis
    assert "app" in capsys.readouterr().err
