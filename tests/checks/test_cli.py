"""The stackgrade command: targets, options, exit codes, and a real four-engine grade of a small template."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest
from rich.console import Console

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
    assert sorted(p.name for p in reports.iterdir()) == [
        "junit.xml", "scorecard.html", "scorecard.json", "scorecard.md", "scorecard.sarif"]
    assert (reports / "scorecard.md").read_text().startswith("<!-- stackgrade -->\n**stackgrade: FAIL**")
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


# --- gate against a baseline, the terminal summary, reports of several scorecards --------------------------------

REPORT_FIXTURES = ROOT / "tests" / "reports" / "fixtures"
GOLDEN = ROOT / "tests" / "reports" / "golden"


def _key(finding: dict) -> tuple[str, str | None]:
    return finding["rule_id"], finding["logical_id"]


@pytest.fixture(scope="module")
def gated_against_baseline(tmp_path_factory):
    """shop graded before (the baseline), then gated after: Payments lost its DLQ, Legacy was removed."""
    work = tmp_path_factory.mktemp("gate-baseline")
    common = ["--cache-dir", str(work / "cache"), "--skip", "cdk-nag"]
    assert main(["grade", str(REPORT_FIXTURES / "before" / "shop.yaml"), "--build-dir", str(work / "base"), "-q",
                 *common]) == EXIT_OK
    console = io.StringIO()
    with contextlib.redirect_stdout(console):
        code = main(["gate", str(REPORT_FIXTURES / "current" / "shop.yaml"), "--build-dir", str(work / "head"),
                     "--baseline", str(work / "base" / "reports"), *common])
    return code, work, console.getvalue()


def test_gate_with_a_baseline_fails_only_on_new_findings_and_says_which(gated_against_baseline):
    code, work, out = gated_against_baseline
    assert code == EXIT_GATE_FAILED
    card = json.loads((work / "head" / "reports" / "shop" / "scorecard.json").read_text())
    before = json.loads((work / "base" / "reports" / "shop" / "scorecard.json").read_text())
    diff = card["gate"]["baseline"]
    assert {_key(f) for f in card["findings"] if f["new"]} == {
        ("CKV_AWS_27", "Payments"), ("SG-DLQ-001", "Payments"), ("SG-ENC-001", "Payments"), ("SG-SUP-001", None)}
    by_print = {fp: f for f in before["findings"] for fp in f["fingerprints"]}
    assert {_key(by_print[fp]) for fp in diff["fixed"]["fingerprints"]} == {
        ("SG-ALM-004", "Legacy"), ("SG-ALM-005", "PaymentsDlq"), ("SG-DLQ-001", "Legacy"),
        ("SG-DLQ-003", "PaymentsDlq"),
        ("SG-ENC-001", "Legacy"), ("SG-OUT-003", "Legacy"), ("SG-OUT-003", "PaymentsDlq"), ("SG-RMV-001", "Legacy"),
        ("SG-RMV-001", "PaymentsDlq")}
    unchanged = {_key(f) for f in card["findings"] if not f["new"]}
    assert ("SG-DLQ-001", "Orders") in unchanged and diff["unchanged"]["count"] == len(unchanged) == 17
    assert card["gate"]["reasons"][0] == "1 new unsuppressed high finding: SG-DLQ-001 on shop/Payments"
    # The Markdown beside it says which findings are new and which were fixed.
    markdown = (work / "head" / "reports" / "shop" / "scorecard.md").read_text()
    assert "**4 new** · **9 fixed** · 17 unchanged" in markdown
    assert "- high **SG-DLQ-001** SQS queues have a dead-letter queue · `Shop/Payments/Resource`" in markdown
    assert "**SG-DLQ-001** SQS queues have a dead-letter queue · `Shop/Legacy/Resource`" in markdown.split(
        "<details><summary>Fixed (9, by fingerprint):</summary>")[1]


def test_the_summary_names_the_worst_new_findings_and_the_reports(gated_against_baseline):
    _, work, out = gated_against_baseline
    lines = out.splitlines()
    first = cli.report_files(work / "head" / "reports" / "shop" / "scorecard.json")[0]
    assert f"shop: {first} (also " in out
    # Against a baseline only new findings fail the gate, so only they are named, worst first, at their line.
    start = lines.index("  gate: 1 new unsuppressed high finding: SG-DLQ-001 on shop/Payments")
    assert lines[start + 1].startswith("  gate: overall score 2.3 is under the minimum 7.0")
    # The template's line of the resource (a whole-stack finding: line 1); CKV_AWS_27 is new but suppressed.
    template = "tests/reports/fixtures/current/shop.yaml"  # from the repository root, as in the SARIF
    assert [" ".join(line.split()) for line in lines[start + 2:start + 5]] == [
        f"high SG-DLQ-001 Shop/Payments/Resource {template}:9",
        f"medium SG-SUP-001 shop {template}:1",
        f"medium SG-ENC-001 Shop/Payments/Resource {template}:9",
    ]
    assert (REPORT_FIXTURES / "current" / "shop.yaml").read_text().splitlines()[8] == "  Payments:"
    assert lines[start + 5] == lines[-1] == (
        f"Next: open {first}, fix what the gate names (each finding says how) or suppress it with a reason, "
        f"then run `stackgrade gate {REPORT_FIXTURES / 'current' / 'shop.yaml'}` again.")


def test_quiet_keeps_the_table_and_the_report_paths(tmp_path, capsys):
    assert _grade(tmp_path, str(QUEUES), "--skip", "checkov", "--skip", "cfn-guard") == EXIT_OK
    out = capsys.readouterr().out
    assert "stackgrade scorecard" in out and "│ queues │" in out
    assert f"queues: {cli.report_files(tmp_path / 'build' / 'reports' / 'queues' / 'scorecard.json')[0]}" in out
    assert "SG-DLQ-001" not in out and "gate:" not in out
    assert out.splitlines()[-1].startswith("Next: open ")


def test_a_passing_run_says_so(tmp_path, capsys):
    settings = tmp_path / "stackgrade.toml"
    settings.write_text('[gate]\nmin_score = 0\nfail_on = []\n')
    assert _grade(tmp_path, str(QUEUES), "--config", str(settings), "--skip", "checkov", "--skip", "cfn-guard",
                  command="gate") == EXIT_OK
    assert capsys.readouterr().out.splitlines()[-1] == "Next: nothing to fix; the gate passes."


def test_grading_several_targets_writes_the_index_page(tmp_path, capsys):
    shop = REPORT_FIXTURES / "current" / "shop.yaml"
    assert _grade(tmp_path, str(QUEUES), str(shop), "--skip", "checkov", "--skip", "cfn-guard") == EXIT_OK
    reports = tmp_path / "build" / "reports"
    index = (reports / "index.html").read_text()
    assert 'href="queues/scorecard.html"' in index and 'href="shop/scorecard.html"' in index
    out = capsys.readouterr().out
    assert f"all targets: {reports / 'index.html'}" in out
    assert f"Next: open {reports / 'index.html'}," in out


def test_report_of_several_scorecards_in_each_format(tmp_path, capsys):
    from reports.markdown import render_markdown_combined

    shop, queues = GOLDEN / "shop.scorecard.json", GOLDEN / "queues.scorecard.json"
    baselines = tmp_path / "base"
    (baselines / "shop").mkdir(parents=True)
    (baselines / "shop" / "scorecard.json").write_text((GOLDEN / "shop-before.scorecard.json").read_text())
    assert main(["report", str(shop), str(queues), "--baseline", str(baselines)]) == EXIT_OK
    cards = [json.loads(shop.read_text()), json.loads(queues.read_text())]
    before = json.loads((GOLDEN / "shop-before.scorecard.json").read_text())
    assert capsys.readouterr().out == render_markdown_combined(cards, baselines=[before, None])

    assert main(["report", "--format", "sarif", str(shop), str(queues)]) == EXIT_OK
    log = json.loads(capsys.readouterr().out)
    assert [run["properties"]["target"] for run in log["runs"]] == ["shop", "queues"]

    assert main(["report", "--format", "junit", str(shop), str(queues), "-o", str(tmp_path / "junit.xml")]) == EXIT_OK
    root = ElementTree.parse(tmp_path / "junit.xml").getroot()
    assert root.get("name") == "stackgrade"
    assert [suite.get("name") for suite in root] == ["shop/shop", "shop/stackgrade", "queues/queues",
                                                     "queues/stackgrade"]
    assert root.find("testsuite/testcase").get("classname").startswith("shop/shop.")
    assert root.find("testsuite[@name='queues/stackgrade']/testcase[@name='gate']").get("classname") == \
        "queues/stackgrade.gate"
    assert int(root.get("tests")) == sum(int(suite.get("tests")) for suite in root)


def test_report_index_links_relative_to_the_output_file(tmp_path):
    shop, queues = GOLDEN / "shop.scorecard.json", GOLDEN / "queues.scorecard.json"
    out = tmp_path / "site" / "index.html"
    assert main(["report", "--format", "html", str(shop), str(queues), "-o", str(out)]) == EXIT_OK
    page = out.read_text()
    expected = Path(os.path.relpath(GOLDEN / "scorecard.html", out.parent)).as_posix()
    assert f'href="{expected}"' in page and "queues" in page and "shop" in page


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["shop", "shop"], "several scorecards of the target shop: one report holds each target once"),
        (["shop", "queues", "--baseline", "shop-before"], "for several scorecards give a folder of <target name>/"),
    ],
)
def test_report_usage_errors(capsys, arguments, message):
    paths = [str(GOLDEN / f"{a}.scorecard.json") if not a.startswith("-") else a for a in arguments]
    assert main(["report", *paths]) == EXIT_ERROR
    assert message in capsys.readouterr().err.replace("\n", "")


def test_finding_lines_name_the_source_line_from_the_repository_root():
    card = json.loads((GOLDEN / "queues.scorecard.json").read_text())
    finding = dict(card["findings"][0], source={"file": "queues/stack.py", "line": 7}, severity="critical")
    assert finding_text(finding, card) == "critical SG-ALM-004 queues/Audit tests/plugin_fixtures/queues/stack.py:7"
    finding["source"] = {"file": "/abs/lib/constructs.py", "line": None}
    assert finding_text(finding, card) == "critical SG-ALM-004 queues/Audit /abs/lib/constructs.py:1"
    card["target"].pop("locations")  # a scorecard of an earlier version
    finding.update(source=None, template_line=None, construct_path="Shop/[bold]x[/bold]")
    assert finding_text(finding, card) == "critical SG-ALM-004 Shop/[bold]x[/bold] queues.template.json:1"


def finding_text(finding: dict, card: dict) -> str:
    """The summary line as the terminal shows it (markup applied), spaces collapsed."""
    console = Console(file=io.StringIO(), width=200)
    console.print(cli.finding_line(finding, card))
    return " ".join(console.file.getvalue().split())
