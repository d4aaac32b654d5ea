"""``stackgrade live`` and ``stackgrade grade --live`` end to end: exit codes, files, scorecard, reports, faults.

The commands run in-process (``checks.cli.main``) against the session's LocalStack (``--endpoint``), except
the Ctrl-C test, which runs the command as a process with its own embedded LocalStack and interrupts it.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from checks.cli import EXIT_ERROR, EXIT_GATE_FAILED, EXIT_OK, main
from checks.scorecard import read_scorecard
from reports.html import render_html
from reports.junit import render_junit
from reports.markdown import render_markdown
from tests.live.conftest import localstack_of

APPS = Path(__file__).resolve().parent / "fixtures" / "apps"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
STATIC = ["--skip", "cdk-nag", "--skip", "checkov", "--skip", "cfn-guard"]  # own rules only: fast


# The live command


@pytest.mark.live
def test_live_prints_the_probes_writes_outputs_and_exits_0(localstack, tmp_path, capsys):
    code = main(["live", str(APPS / "nested_asset"), "--endpoint", localstack.url, "--build-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == EXIT_OK, out
    assert f"Using the LocalStack at {localstack.url}" in out
    assert "Deploying LiveFixture-Producer" in out and "Deleting LiveFixture-Consumer" in out
    assert "nested_asset: live probes" in out and "dlq" in out
    assert "nested_asset: ok" in out and "skipped on request" not in out
    folder = tmp_path / "live" / "nested_asset"
    assert json.loads((folder / "live.json").read_text())["status"] == "ok"
    assert set(json.loads((folder / "cfn-outputs" / "flat-outputs.json").read_text())) >= {"QueueUrl", "BucketName"}


@pytest.mark.live
def test_live_honours_the_endpoint_variable(localstack, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LOCALSTACK_ENDPOINT", localstack.url)
    code = main(["live", str(APPS / "not_emulated"), "--build-dir", str(tmp_path), "-q"])
    out = capsys.readouterr().out
    assert code in (EXIT_OK, EXIT_GATE_FAILED), out
    assert "Using the LocalStack" not in out  # quiet: no progress lines
    assert "not emulated in LiveFixture-Containers: Cluster (AWS::ECS::Cluster)" in out
    section = json.loads((tmp_path / "live" / "not_emulated" / "live.json").read_text())
    assert section["endpoint"]["url"] == localstack.url


@pytest.mark.live
def test_a_deploy_failure_is_a_failed_probe_exit_1_naming_the_resource(localstack, tmp_path, capsys):
    code = main(["live", str(APPS / "failing_nested"), "--endpoint", localstack.url, "--build-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == EXIT_GATE_FAILED, out
    assert "failing_nested: probes failed — 0 passed, 1 failed" in out and "error:" not in out
    (row,) = [line for line in out.splitlines() if "│ deploy" in line]
    assert "LiveFixture-FailingNested/Inner" in row and "Broken" in row and "CREATE_FAILED" in row
    section = json.loads((tmp_path / "live" / "failing_nested" / "live.json").read_text())
    assert (section["status"], section["deployed"]) == ("ok", False)
    assert [(p["stack"], p["resource"], p["kind"], p["rule_id"]) for p in section["probes"]] == [
        ("LiveFixture-FailingNested/Inner", "Broken", "deploy", "SG-LIVE-011")]


@pytest.mark.live
def test_a_stack_that_does_not_finish_in_time_is_the_targets_error_exit_2(localstack, tmp_path, capsys):
    """Several stacks and a nested one: none is complete at the first look (a lone table sometimes is)."""
    code = main(["live", str(APPS / "nested_asset"), "--endpoint", localstack.url, "--build-dir", str(tmp_path),
                 "--stack-timeout", "0.001", "-q"])
    out = capsys.readouterr().out
    assert code == EXIT_ERROR, out
    assert "nested_asset: error" in out and "was still CREATE_IN_PROGRESS after 0 s; give it more time (--stack-timeout)" in out


@pytest.mark.live
def test_a_probe_out_of_time_exits_1(localstack, tmp_path, capsys):
    code = main(["live", str(APPS / "nested_asset"), "--endpoint", localstack.url, "--build-dir", str(tmp_path),
                 "--probe-timeout", "0.001", "-q"])
    out = capsys.readouterr().out
    assert code == EXIT_GATE_FAILED
    assert "timed out" in out and "probes failed" in out


@pytest.mark.live
def test_keep_with_an_endpoint_leaves_the_stacks(localstack, aws, tmp_path):
    from checks.assembly import Assembly
    from checks.live.deploy import DeployedStack, Deployment, teardown

    code = main(["live", str(APPS / "not_emulated"), "--endpoint", localstack.url, "--build-dir", str(tmp_path),
                 "--keep", "-q"])
    assert code in (EXIT_OK, EXIT_GATE_FAILED)
    section = json.loads((tmp_path / "live" / "not_emulated" / "live.json").read_text())
    (stack,) = section["stacks"]
    cfn = aws("cloudformation")
    (description,) = cfn.describe_stacks(StackName=stack["deployed_name"])["Stacks"]
    assert description["StackStatus"] == "CREATE_COMPLETE"
    assert section["timings"]["teardown"] is None
    kept = DeployedStack(stack["name"], stack["deployed_name"], description["StackId"])
    teardown(Deployment(Assembly.load(APPS / "not_emulated"), localstack, "kept", APPS / "not_emulated",
                        stacks=[kept]))


def test_rules_lists_the_live_rules_with_engine_live(capsys):
    from rules.live import live_rules

    assert main(["rules", "--format", "json"]) == EXIT_OK
    listed = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    for rule in live_rules():
        assert (listed[rule.id]["engine"], listed[rule.id]["title"]) == ("live", rule.title)
    assert listed["SG-LIVE-011"]["concerns"] == ["deployment"] and listed["SG-DLQ-001"]["engine"] == "stackgrade"
    assert main(["rules"]) == EXIT_OK
    assert "SG-LIVE-011" in capsys.readouterr().out


@pytest.mark.parametrize("flag", ["--probe-timeout", "--stack-timeout"])
def test_timeouts_must_be_positive(flag, tmp_path, capsys):
    assert main(["live", str(APPS / "failing"), flag, "0", "--build-dir", str(tmp_path)]) == EXIT_ERROR
    assert f"{flag} must be a positive number" in capsys.readouterr().err


def test_live_flags_need_live(tmp_path, capsys):
    assert main(["grade", str(APPS / "failing"), "--keep", "--build-dir", str(tmp_path)]) == EXIT_ERROR
    assert "are for the live step; add --live" in capsys.readouterr().err


def test_jobs_must_be_positive(tmp_path, capsys):
    assert main(["live", str(APPS / "failing"), "--jobs", "0", "--build-dir", str(tmp_path)]) == EXIT_ERROR
    assert "--jobs must be at least 1" in capsys.readouterr().err


def test_a_remote_endpoint_is_refused_before_any_work(tmp_path, capsys):
    code = main(["live", str(APPS / "failing"), "--endpoint", "http://192.0.2.1:4566", "--build-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == EXIT_ERROR
    assert "Refusing endpoint http://192.0.2.1:4566" in err and "--allow-remote-endpoint" in err
    assert not (tmp_path / "live").exists()


def test_an_endpoint_that_is_not_localstack_exits_2(tmp_path, capsys):
    """A port held by something else (here a plain web server) is no LocalStack: a clear error, exit 2."""

    class NotLocalStack(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server protocol
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), NotLocalStack)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        code = main(["live", str(APPS / "failing"), "--endpoint", f"http://127.0.0.1:{server.server_port}",
                     "--build-dir", str(tmp_path)])
    finally:
        server.shutdown()
        server.server_close()
    err = capsys.readouterr().err
    assert code == EXIT_ERROR
    assert f"No LocalStack answers at http://127.0.0.1:{server.server_port}" in err


def test_keep_waits_for_enter_only_for_an_embedded_localstack_on_a_terminal(monkeypatch, capsys):
    from rich.console import Console

    from checks.cli import _wait_while_kept
    from checks.live import Endpoint

    console = Console()
    asked = []
    monkeypatch.setattr("builtins.input", lambda: asked.append(True))
    _wait_while_kept(Endpoint("http://127.0.0.1:4566", "external"), console)
    monkeypatch.setattr(sys, "stdin", type("Piped", (), {"isatty": staticmethod(lambda: False)})())
    _wait_while_kept(Endpoint("http://127.0.0.1:1", "embedded"), console)
    assert "stops now and takes the stacks with it" in capsys.readouterr().out
    monkeypatch.setattr(sys, "stdin", type("Terminal", (), {"isatty": staticmethod(lambda: True)})())
    _wait_while_kept(Endpoint("http://127.0.0.1:1", "embedded"), console)
    assert asked == [True] and "press Enter to stop LocalStack" in capsys.readouterr().out


# grade --live


@pytest.mark.live
def test_grade_live_adds_the_live_engine_section_and_reports(localstack, tmp_path, capsys):
    code = main(["grade", str(APPS / "nested_asset"), "--live", "--endpoint", localstack.url, "--build-dir",
                 str(tmp_path), "--no-cache", *STATIC])
    out = capsys.readouterr().out
    assert code == EXIT_OK, out
    folder = tmp_path / "reports" / "nested_asset"
    card = read_scorecard(folder / "scorecard.json")
    (live_engine,) = [e for e in card["engines"] if e["name"] == "live"]
    assert live_engine["status"] == "ok" and live_engine["version"] == f"localstack {card['live']['endpoint']['localstack_version']}"
    assert card["live"]["status"] == "ok" and card["live"]["endpoint"]["kind"] == "external"
    assert card["live"]["summary"]["pass"] >= 1 and "live" in card["summary"]["by_engine"]
    assert (tmp_path / "live" / "nested_asset" / "live.json").is_file()
    assert "### Live verification (LocalStack" in (folder / "scorecard.md").read_text()
    assert 'id="probes"' in (folder / "scorecard.html").read_text()
    suites = [s.get("name") for s in ET.fromstring((folder / "junit.xml").read_text())]
    assert "live" in suites


@pytest.mark.live
def test_gate_live_judges_an_app_that_does_not_deploy_by_its_failing_resource(localstack, tmp_path, capsys):
    """A resource the app cannot create is a finding (SG-LIVE-011, high: the gate fails, exit 1), not an engine
    error; the live section and the reports show the deploy failure."""
    code = main(["gate", str(APPS / "failing"), "--live", "--endpoint", localstack.url, "--build-dir",
                 str(tmp_path), "--no-cache", *STATIC])
    out = capsys.readouterr().out
    assert code == EXIT_GATE_FAILED, out
    assert "engine error" not in out and "leave out --live" not in out
    folder = tmp_path / "reports" / "failing"
    card = read_scorecard(folder / "scorecard.json")
    assert {e["name"]: e["status"] for e in card["engines"]}["live"] == "ok"
    assert (card["live"]["status"], card["live"]["deployed"], card["gate"]["passed"]) == ("ok", False, False)
    (finding,) = [f for f in card["findings"] if f["engine"] == "live"]
    assert (finding["rule_id"], finding["severity"], finding["logical_id"]) == ("SG-LIVE-011", "high", "Broken")
    assert any("SG-LIVE-011" in reason for reason in card["gate"]["reasons"]), card["gate"]["reasons"]
    markdown = (folder / "scorecard.md").read_text()
    assert "Failed probes (1):" in markdown and "no other probe ran" in markdown


def test_grade_live_records_a_localstack_lost_before_the_live_step_as_each_targets_error(tmp_path, capsys):
    """The endpoint answers its health check when the command starts, then no longer (it went away while the
    static engines ran): every target's live run is that error, and the gate fails closed."""
    from checks.live.localstack import SERVICES

    answered = []

    class GoneAfterOneAnswer(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server protocol
            if answered:
                self.send_response(503)
                self.end_headers()
                return
            answered.append(self.path)
            body = json.dumps({"services": {name: "available" for name in SERVICES}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), GoneAfterOneAnswer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        code = main(["grade", str(APPS / "failing"), "--live", "--endpoint", f"http://127.0.0.1:{server.server_port}",
                     "--build-dir", str(tmp_path), "--no-cache", *STATIC])
    finally:
        server.shutdown()
        server.server_close()
    assert code == EXIT_ERROR and answered == ["/_localstack/health"]
    card = read_scorecard(tmp_path / "reports" / "failing" / "scorecard.json")
    assert card["live"]["status"] == "error" and "No LocalStack answers" in card["live"]["error"]
    assert card["live"]["endpoint"]["kind"] is None
    assert any(reason.startswith("engine error: live No LocalStack answers") for reason in card["gate"]["reasons"])
    assert "leave out --live" in capsys.readouterr().out


# The reports of a live section (no LocalStack: a scorecard with a hand-made section)


def live_card(base: dict, **live) -> dict:
    section = {
        "status": "ok", "error": None,
        "endpoint": {"kind": "embedded", "url": "http://127.0.0.1:4566", "localstack_version": "4.14.0"},
        "timings": {"environment": 0.2, "start": 1.5, "deploy": 3.0, "probes": None},
        "stacks": [{"name": "Shop", "not_emulated": [{"resource": "Cluster", "type": "AWS::ECS::Cluster",
                                                      "reason": "ECS is not in LocalStack"}]}],
        "probes": [
            {"kind": "dlq", "stack": "Shop", "resource": "Orders", "resource_type": "AWS::SQS::Queue",
             "result": "fail", "detail": "the message | was <lost>", "seconds": 1.25, "rule_id": "SG-LIVE-001"},
            {"kind": "output", "stack": "Shop", "resource": "Url", "resource_type": None, "result": "pass",
             "detail": "answers", "seconds": 0.1, "rule_id": "SG-LIVE-003"},
            {"kind": "emulation", "stack": "Shop", "resource": "Cluster", "resource_type": "AWS::ECS::Cluster",
             "result": "not-emulated", "detail": "", "seconds": 0, "rule_id": None},
        ],
        "summary": {"pass": 1, "fail": 1, "not-emulated": 1},
    }
    section.update(live)
    return {**base, "live": section}


@pytest.fixture
def card():
    return read_scorecard(PROJECT_ROOT / "tests" / "reports" / "golden" / "shop.scorecard.json")


def test_markdown_shows_the_live_section(card):
    text = render_markdown(live_card(card))
    assert "### Live verification (LocalStack 4.14.0 embedded)" in text
    assert "**1 passed** · **1 failed** · 1 not emulated · environment 0.2 s, start 1.5 s, deploy 3.0 s" in text
    assert "Failed probes (1):" in text and r"the message \| was \<lost\>" in text and "(SG-LIVE-001)" in text
    assert "Not emulated (1), never counted as passed" in text and "`Shop/Cluster` (AWS::ECS::Cluster)" in text
    assert "All probes (3)" in text
    errored = render_markdown(live_card(card, status="error", error="LocalStack died", probes=[], stacks=[],
                                        timings={}, summary={}))
    assert "The live step failed: LocalStack died" in errored and "Failed probes" not in errored
    assert "All probes" not in render_markdown(live_card(card, probes=[]))


def test_html_shows_the_live_section(card):
    from bs4 import BeautifulSoup

    page = BeautifulSoup(render_html(live_card(card)), "html.parser")
    section = page.find(id="live")
    assert "LocalStack 4.14.0 embedded http://127.0.0.1:4566" in section.get_text(" ")
    rows = page.find(id="probes").find("tbody").find_all("tr")
    assert [r.find("span").get_text() for r in rows] == ["fail", "not-emulated", "pass"]  # failures first
    assert "the message | was <lost>" in rows[0].get_text()
    assert page.find(id="not-emulated").get_text(" ").split() == ["Shop/Cluster", "(AWS::ECS::Cluster):", "ECS", "is",
                                                                   "not", "in", "LocalStack"]
    errored = BeautifulSoup(render_html(live_card(card, status="error", error="LocalStack died", probes=[],
                                                  stacks=[])), "html.parser")
    assert errored.find(id="live-error").get_text() == "The live step failed: LocalStack died"
    assert errored.find(id="probes") is None and errored.find(id="not-emulated") is None
    assert BeautifulSoup(render_html(card), "html.parser").find(id="live") is None


def test_junit_has_a_test_case_per_probe(card):
    root = ET.fromstring(render_junit(live_card(card)))
    (suite,) = [s for s in root if s.get("name") == "live"]
    cases = {c.get("name"): c for c in suite}
    assert set(cases) == {"dlq Shop/Orders", "output Shop/Url", "emulation Shop/Cluster"}
    assert cases["dlq Shop/Orders"].find("failure").get("type") == "SG-LIVE-001"
    assert cases["emulation Shop/Cluster"].find("skipped").get("message") == "not emulated"
    assert cases["output Shop/Url"].find("failure") is None and cases["output Shop/Url"].find("skipped") is None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")


def test_a_damaged_live_section_is_refused(card):
    from checks.scorecard import ScorecardError, check_scorecard

    with pytest.raises(ScorecardError, match="live is not an object with a list of probes"):
        check_scorecard({**card, "live": {"probes": None}}, "x")


# Ctrl-C




@pytest.mark.live
def test_ctrl_c_during_a_deploy_stops_everything(tmp_path):
    from checks.live.localstack import marked_processes, port_is_free

    command = [sys.executable, "-m", "checks.cli", "live", str(APPS / "nested_asset"), "--build-dir", str(tmp_path)]
    env = {k: v for k, v in os.environ.items() if k != "LOCALSTACK_ENDPOINT"} | {"PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    output, found = [], None
    try:
        for line in process.stdout:
            output.append(line)
            if "Deploying" in line:
                found = localstack_of(tmp_path / "live" / "localstack.log")
                process.send_signal(signal.SIGINT)
                break
        output.extend(process.stdout)
        code = process.wait(60)
    finally:
        if process.poll() is None:
            process.kill()
    text = "".join(output)
    assert found is not None, text
    assert code == 130 and "interrupted" in text, text
    assert marked_processes(found[1]) == [] and port_is_free(found[2])
