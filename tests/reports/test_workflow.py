"""The GitHub Actions workflow (.github/workflows/stackgrade.yml): triggers and permissions, every stackgrade
command in it parsed by the real CLI parser, the paths it uploads and posts are the ones the CLI writes, its
shell steps run under bash as Actions runs them, and its comment script run on Node against a recorded API.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from checks import cli
from reports import RENDERERS, render_combined
from reports import goldens
from reports.markdown import MARKER

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "stackgrade.yml"
BASH = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]  # how Actions runs a `run:` step
SHELL_CONTROL = {"||", "&&", "|", ";", "then", "else", "fi"}
PLACEHOLDER = "/placeholder"


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def steps(workflow) -> dict[str, dict]:
    return {step.get("name") or step.get("uses"): step for step in workflow["jobs"]["gate"]["steps"]}


def stackgrade_commands(script: str, env: dict[str, str]) -> list[list[str]]:
    """Each stackgrade command line in a shell script, as its argument list: the workflow's own variables
    expanded to their values (word-split where unquoted, as bash does), any other variable a placeholder."""
    def expand(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        return env.get(name, f"{PLACEHOLDER}/{name}")

    commands = []
    for line in script.replace("\\\n", " ").splitlines():
        words = shlex.split(re.sub(r"\$\{(\w+)(?::-)?\}|\$(\w+)", expand, line), comments=True)
        for position, word in enumerate(words):
            rest = words[position + 1:]
            if Path(word).name == "stackgrade" and rest and not rest[0].startswith("-"):
                cut = next((i for i, w in enumerate(rest) if w in SHELL_CONTROL), len(rest))
                commands.append(rest[:cut])
    return commands


def all_commands(workflow: dict, steps: dict[str, dict]) -> dict[str, list[list[str]]]:
    env = {name: " ".join(str(value).split()) for name, value in workflow["env"].items()}
    return {name: stackgrade_commands(step["run"], env) for name, step in steps.items() if "run" in step}


# --- the file ---------------------------------------------------------------------------------------------------


def test_triggers_and_permissions(workflow):
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert set(triggers) == {"pull_request", "push"} and triggers["push"] == {"branches": ["main"]}
    assert workflow["permissions"] == {"contents": "read"}  # the least, raised for the one job that needs more
    job = workflow["jobs"]["gate"]
    assert job["permissions"] == {"contents": "read", "security-events": "write", "actions": "read",
                                  "pull-requests": "write"}
    uses = [step["uses"].split("@")[0] for step in job["steps"] if "uses" in step]
    assert uses == ["actions/checkout", "actions/setup-python", "actions/setup-node",
                    "github/codeql-action/upload-sarif", "actions/upload-artifact", "actions/github-script"]
    versions = {step["uses"].split("@")[0]: step.get("with", {}) for step in job["steps"] if "uses" in step}
    assert versions["actions/setup-python"]["python-version"] == "3.11"
    assert versions["actions/setup-node"]["node-version"] == "22"


def test_every_stackgrade_command_parses_with_the_real_cli(workflow, steps):
    commands = all_commands(workflow, steps)
    parser = cli._parser()
    parsed = {name: [parser.parse_args(command) for command in found] for name, found in commands.items()}
    assert [a.command for a in parsed["Grade the base commit for the baseline"]] == ["grade"]
    assert [a.command for a in parsed["Gate"]] == ["gate", "gate"]
    assert [a.command for a in parsed["Write the Markdown report"]] == ["report", "report"]
    assert sum(len(found) for found in commands.values()) == 5
    # The targets are the five production-ready reference systems, and resolve as the CLI resolves them.
    targets = workflow["env"]["STACKGRADE_TARGETS"].split()
    assert [t.name for t in cli.resolve_targets(targets)] == [
        "order_pipeline-ideal", "webhook_pipeline-ideal", "payments_dr-ideal", "pattern_detection-ideal",
        "order_processing_fargate-ideal"]
    base, (with_baseline, without) = parsed["Grade the base commit for the baseline"][0], parsed["Gate"]
    assert base.targets == with_baseline.targets == without.targets == targets
    assert with_baseline.baseline == Path(PLACEHOLDER, "STACKGRADE_BASELINE") and without.baseline is None


def test_the_paths_it_uploads_and_posts_are_the_ones_the_cli_writes(workflow, steps):
    commands = all_commands(workflow, steps)
    parser = cli._parser()
    gate = parser.parse_args(commands["Gate"][0])
    reports = (gate.build_dir / "reports").as_posix()
    assert steps["Upload SARIF to code scanning"]["with"] == {"sarif_file": reports}  # no category: one per run
    assert steps["Upload the reports"]["with"]["path"] == reports
    assert RENDERERS["sarif"][1].endswith(".sarif")  # what upload-sarif collects from the folder
    # The base is graded into <worktree>/build, and that folder's reports are the gate's --baseline.
    base = parser.parse_args(commands["Grade the base commit for the baseline"][0])
    assert base.build_dir == Path("build")
    assert 'echo "STACKGRADE_BASELINE=$base/build/reports" >> "$GITHUB_ENV"' in \
        steps["Grade the base commit for the baseline"]["run"]
    # The Markdown report reads every scorecard the gate wrote and writes the file the comment step posts.
    for command in commands["Write the Markdown report"]:
        report = parser.parse_args(command)
        assert report.format == "md" and report.output == Path(workflow["env"]["STACKGRADE_COMMENT"])
        (pattern,) = report.scorecards
        assert fnmatch.fnmatch(f"{reports}/order_pipeline-ideal/scorecard.json", str(pattern))
    assert "process.env.STACKGRADE_COMMENT" in steps["Post or update the PR comment"]["with"]["script"]


def test_the_comment_step_looks_for_the_marker_the_report_starts_with(steps):
    step = steps["Post or update the PR comment"]
    assert step["env"]["MARKER"] == MARKER
    assert "c.body.startsWith(marker)" in step["with"]["script"]
    card = goldens.stored_cards()["queues"]
    assert render_combined([card, dict(card, target={"name": "other"})], "md").startswith(MARKER + "\n")


def test_a_failing_gate_skips_neither_the_uploads_nor_the_comment_and_fails_the_job_last(workflow, steps):
    names = list(steps)
    after = names[names.index("Gate") + 1:]
    assert after[-1] == "Fail if the gate failed"
    for name in after:
        assert "always()" in steps[name]["if"], name
    assert steps["Gate"]["id"] == "gate" and "continue-on-error" not in steps["Gate"]
    assert steps["Fail if the gate failed"]["env"]["GATE_EXIT"] == "${{ steps.gate.outputs.exit-code }}"
    # Uploads that a fork's read-only token cannot make do not decide the job; the gate's exit code does.
    assert steps["Upload SARIF to code scanning"]["continue-on-error"] is True
    assert steps["Post or update the PR comment"]["continue-on-error"] is True


# --- the shell steps, run -------------------------------------------------------------------------------------


def run_step(script: str, tmp_path: Path, env: dict[str, str], path: list[Path] = ()) -> subprocess.CompletedProcess:
    environment = {**os.environ, "GITHUB_OUTPUT": str(tmp_path / "output"), "GITHUB_ENV": str(tmp_path / "env"),
                   "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"), **env}
    environment["PATH"] = os.pathsep.join([*map(str, path), environment["PATH"]])
    return subprocess.run([*BASH, "-c", script], cwd=tmp_path, env=environment, capture_output=True, text=True)


@pytest.mark.parametrize(("baseline", "code"), [("", 1), ("/base/build/reports", 2), ("", 0)])
def test_the_gate_step_keeps_the_exit_code_and_never_fails(workflow, steps, tmp_path, baseline, code):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "stackgrade"  # the gate's verdict is what this step handles, not how it is reached
    fake.write_text(f'#!/bin/sh\necho "$@" > "{tmp_path}/args"\nexit {code}\n')
    fake.chmod(0o755)
    targets = " ".join(workflow["env"]["STACKGRADE_TARGETS"].split())
    done = run_step(steps["Gate"]["run"], tmp_path, {"STACKGRADE_TARGETS": targets, "STACKGRADE_BASELINE": baseline},
                    [bin_dir])
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "output").read_text() == f"exit-code={code}\n"
    expected = f"gate {targets}" + (f" --baseline {baseline}" if baseline else "")
    assert (tmp_path / "args").read_text().strip() == expected

    final = steps["Fail if the gate failed"]["run"]
    assert run_step(final, tmp_path, {"GATE_EXIT": str(code)}).returncode == code
    assert run_step(final, tmp_path, {"GATE_EXIT": ""}).returncode == 2  # the gate never ran


def test_the_report_step_writes_the_comment_with_the_real_cli(workflow, steps, tmp_path):
    cards = goldens.stored_cards()
    for name in ("shop", "queues"):
        folder = tmp_path / "build" / "reports" / name
        folder.mkdir(parents=True)
        (folder / "scorecard.json").write_text(json.dumps(cards[name]), encoding="utf-8")
    base = tmp_path / "base" / "build" / "reports" / "shop"
    base.mkdir(parents=True)
    (base / "scorecard.json").write_text(json.dumps(cards["shop-before"]), encoding="utf-8")
    comment = workflow["env"]["STACKGRADE_COMMENT"]
    done = run_step(steps["Write the Markdown report"]["run"], tmp_path,
                    {"STACKGRADE_COMMENT": comment, "STACKGRADE_BASELINE": str(base.parent)},
                    [Path(sys.executable).parent])
    assert done.returncode == 0, done.stderr
    text = (tmp_path / comment).read_text(encoding="utf-8")
    # The glob lists the targets by name: queues before shop.
    assert text == render_combined([cards["queues"], cards["shop"]], "md", baselines=[None, cards["shop-before"]])
    assert (tmp_path / "summary").read_text(encoding="utf-8") == text


# --- the comment script, run ----------------------------------------------------------------------------------

HARNESS = """
const fs = require('fs');
const calls = [];
const existing = JSON.parse(process.env.EXISTING);
const github = {
  paginate: async (method, params) => { calls.push(['list', params]); return existing; },
  rest: { issues: {
    listComments: 'listComments',
    updateComment: async (params) => { calls.push(['update', params]); },
    createComment: async (params) => { calls.push(['create', params]); },
  } },
};
const context = { repo: { owner: 'o', repo: 'r' }, issue: { number: 7 }, runId: 42, serverUrl: 'https://github.com' };
const script = fs.readFileSync(process.env.SCRIPT, 'utf8');
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
new AsyncFunction('require', 'github', 'context', script)(require, github, context)
  .then(() => console.log(JSON.stringify(calls)), (error) => { console.error(error.message); process.exit(1); });
"""


def node() -> str:
    from reference_stacks.jsii_node import PROJECT_NODE

    found = str(PROJECT_NODE) if PROJECT_NODE.exists() else shutil.which("node")
    assert found, "Node is needed (npm ci installs the project's Node 22)"
    return found


def run_comment_script(steps, tmp_path: Path, existing: list[dict], report: str) -> subprocess.CompletedProcess:
    step = steps["Post or update the PR comment"]
    (tmp_path / "script.js").write_text(step["with"]["script"], encoding="utf-8")
    (tmp_path / "harness.js").write_text(HARNESS, encoding="utf-8")
    (tmp_path / "comment.md").write_text(report, encoding="utf-8")
    env = {**os.environ, **step["env"], "SCRIPT": str(tmp_path / "script.js"), "EXISTING": json.dumps(existing),
           "STACKGRADE_COMMENT": str(tmp_path / "comment.md")}
    return subprocess.run([node(), str(tmp_path / "harness.js")], env=env, capture_output=True, text=True)


def test_the_comment_script_updates_its_own_comment_or_creates_one(steps, tmp_path):
    report = render_combined([goldens.stored_cards()["queues"]], "md")
    others = [{"id": 1, "user": {"type": "User"}, "body": f"{MARKER} quoted by a person"},
              {"id": 2, "user": {"type": "Bot"}, "body": "another bot"}]
    done = run_comment_script(steps, tmp_path, [*others, {"id": 3, "user": {"type": "Bot"}, "body": MARKER + "\nold"}],
                              report)
    assert done.returncode == 0, done.stderr
    listed, (action, params) = json.loads(done.stdout)
    assert listed == ["list", {"owner": "o", "repo": "r", "issue_number": 7, "per_page": 100}]
    assert action == "update" and params["comment_id"] == 3
    assert params["body"] == report + "\n<sub>HTML, SARIF and JUnit reports: the stackgrade-reports artifact of " \
        "[this run](https://github.com/o/r/actions/runs/42).</sub>\n"

    done = run_comment_script(steps, tmp_path, others, report)
    action, params = json.loads(done.stdout)[1]
    assert action == "create" and params["issue_number"] == 7 and params["body"].startswith(MARKER)

    done = run_comment_script(steps, tmp_path, others, "no marker")
    assert done.returncode == 1 and "does not start with <!-- stackgrade -->" in done.stderr
