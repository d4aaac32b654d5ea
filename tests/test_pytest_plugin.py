"""The pytest plugin (``checks/pytest_plugin.py``), driven through pytester on small fixture assemblies.

Assertions name the three rules the framework shipped with (SG-DLQ-001 queues
have a DLQ, SG-LOG-001 log groups expire, SG-ALM-001 functions have alarms);
the rest of the catalogue may grow without touching these tests.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import cfnlint.decode.cfn_yaml  # noqa: F401 - see below
import pytest

from rules import all_rules

pytest_plugins = ["pytester"]
# In-process runs drop the modules they imported afterwards; cfn-lint's YAML decoder (imported for
# the YAML fixtures) breaks when imported twice into one process, so it is imported here, once.

FIXTURES = Path(__file__).parent / "plugin_fixtures"
RULE_IDS = [rule.id for rule in all_rules()]
# -p stackgrade loads the entry point even where plugin autoloading is off (as `nox -s rules` does).
PLUGIN = ("-p", "stackgrade", "-p", "no:cacheprovider")


@pytest.fixture
def workdir(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester directory holding copies of the fixture templates and assembly."""
    for source in FIXTURES.iterdir():
        target = pytester.path / source.name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, target)
    return pytester


def outcomes(reprec) -> dict[str, tuple[str, str]]:
    """Test-item name -> (outcome, report text) from an inline run."""
    found = {}
    for report in reprec.getreports("pytest_runtest_logreport"):
        if report.when == "call" or report.outcome != "passed":
            name = report.nodeid.rpartition("::stackgrade[")[2].rstrip("]")
            text = report.longrepr[2].removeprefix("Skipped: ") if report.skipped else report.longreprtext
            found[name] = (report.outcome, text)
    return found


def write_settings(pytester: pytest.Pytester, folder: str, enabled: set[str]) -> Path:
    """A pyproject.toml in ``folder`` that turns off every rule except ``enabled``."""
    directory = pytester.path / folder
    directory.mkdir(exist_ok=True)
    switches = ", ".join(f'"{rule_id}" = false' for rule_id in RULE_IDS if rule_id not in enabled)
    (directory / "pyproject.toml").write_text(f"[tool.stackgrade]\nrules = {{ {switches} }}\n")
    return directory


def test_one_item_per_top_level_stack_and_rule(workdir):
    result = workdir.runpytest(*PLUGIN, "--stackgrade-assembly", "nested-assembly", "--collect-only", "-q")
    collected = [line for line in result.outlines if "::stackgrade[" in line]
    expected = {f"nested-assembly::stackgrade[{stack}::{rule_id}]" for stack in ("Shop-dev", "Audit-dev")
                for rule_id in RULE_IDS}
    # The nested stack (Shop-dev/Billing) has no items of its own: it belongs to Shop-dev.
    assert set(collected) == expected
    assert len(collected) == len(expected)


def test_fail_pass_and_skip_outcomes(workdir):
    reprec = workdir.inline_run(*PLUGIN, "--stackgrade-assembly", "queues.yaml")
    results = outcomes(reprec)
    assert results["queues::SG-DLQ-001"][0] == "failed"
    assert results["queues::SG-LOG-001"][0] == "passed"
    assert results["queues::SG-ALM-001"] == ("skipped", "SG-ALM-001 applies to nothing in queues")
    assert len(results) == len(RULE_IDS)


def test_failure_lists_each_resource_by_construct_path_then_the_fix(workdir):
    result = workdir.runpytest(*PLUGIN, "--stackgrade-assembly", "queues.yaml", "-k", "SG-DLQ-001")
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    result.stdout.fnmatch_lines([
        "*stackgrade[[]queues::SG-DLQ-001[]]*",
        "SG-DLQ-001 SQS queues have a dead-letter queue (high, dlq): 2 of 3 failed in queues",
        "  Shop/Orders/Resource: queue has no redrive policy*",  # the construct path when there is one
        "  queues/Payments: queue has no redrive policy*",  # else stack/logical ID
        "Fix: Create a second queue as the DLQ*",
    ])
    assert "Audit" not in text.split("short test summary")[0].split("Fix:")[0]
    assert "Traceback" not in text and "pytest_plugin.py" not in text and "raise " not in text


def test_nested_resources_fail_their_top_level_stack(workdir):
    results = outcomes(workdir.inline_run(*PLUGIN, "--stackgrade-assembly", "nested-assembly"))
    outcome, text = results["Shop-dev::SG-DLQ-001"]
    assert outcome == "failed"
    assert "1 of 2 failed in Shop-dev" in text and "Shop-dev/Billing/Invoices/Resource:" in text
    assert results["Audit-dev::SG-DLQ-001"] == ("skipped", "SG-DLQ-001 applies to nothing in Audit-dev")
    assert results["Audit-dev::SG-LOG-001"][0] == "passed"


def test_each_assembly_is_graded_and_reported_separately(workdir):
    result = workdir.runpytest(*PLUGIN, "--stackgrade-assembly", "queues.yaml",
                               "--stackgrade-assembly", "nested-assembly", "-k", "SG-DLQ-001", "-rA")
    result.assert_outcomes(failed=2, skipped=1)
    result.stdout.fnmatch_lines(["*SKIPPED * nested-assembly: SG-DLQ-001 applies to nothing in Audit-dev"])


def test_severity_and_concerns_are_keywords(workdir):
    reprec = workdir.inline_run(*PLUGIN, "--stackgrade-assembly", "queues.yaml", "-k", "critical or high")
    results = outcomes(reprec)
    assert "queues::SG-DLQ-001" in results and "queues::SG-LOG-001" not in results  # high / medium
    assert "queues::SG-LOG-001" in outcomes(workdir.inline_run(*PLUGIN, "--stackgrade-assembly", "queues.yaml",
                                                                  "-k", "log-retention"))


def test_settings_from_the_current_directory(workdir):
    write_settings(workdir, ".", {"SG-LOG-001"})
    reprec = workdir.inline_run(*PLUGIN, "--stackgrade-assembly", "queues.yaml")
    results = outcomes(reprec)
    assert results["queues::SG-LOG-001"][0] == "passed"
    assert results["queues::SG-DLQ-001"] == ("skipped", "SG-DLQ-001 is disabled in the stackgrade settings")
    assert reprec.ret == 0


def test_settings_from_stackgrade_config(workdir):
    settings = write_settings(workdir, "settings", {"SG-DLQ-001"})
    result = workdir.runpytest(*PLUGIN, "--stackgrade-assembly", "queues.yaml", "--stackgrade-config", str(settings))
    result.assert_outcomes(failed=1, skipped=len(RULE_IDS) - 1)


def test_without_test_paths_only_the_rules_run(workdir):
    workdir.makepyfile(test_app="def test_app():\n    pass\n")
    result = workdir.runpytest(*PLUGIN, "--stackgrade-assembly", "queues.yaml", "-k", "SG-LOG-001 or test_app")
    result.assert_outcomes(passed=1)
    with_paths = workdir.runpytest(*PLUGIN, "test_app.py", "--stackgrade-assembly", "queues.yaml",
                                   "-k", "SG-LOG-001 or test_app")
    with_paths.assert_outcomes(passed=2)


def test_without_the_option_the_plugin_adds_nothing(workdir):
    workdir.makepyfile(test_app="def test_app():\n    pass\n")
    result = workdir.runpytest(*PLUGIN, "-v")
    result.assert_outcomes(passed=1)
    assert "stackgrade[" not in result.stdout.str()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--stackgrade-assembly", "missing"], "--stackgrade-assembly missing: missing does not exist*"),
        (["--stackgrade-assembly", "broken.yaml"], "--stackgrade-assembly broken.yaml: resource Orders * has no Type"),
        (["--stackgrade-assembly", "."], "--stackgrade-assembly .: * has no manifest.json*"),
        (["--stackgrade-assembly", "queues.yaml", "--stackgrade-config", "queues.yaml"],
         "--stackgrade-config queues.yaml: not a directory*"),
    ],
    ids=["missing", "malformed-template", "not-an-assembly", "config-not-a-directory"],
)
def test_bad_assembly_or_config_is_a_usage_error(workdir, arguments, message):
    result = workdir.runpytest(*PLUGIN, *arguments)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


@pytest.mark.parametrize(
    ("file", "settings", "message"),
    [
        ("pyproject.toml", "[tool.stackgrade]\nthresholds = { dlq_min_retention_days = 0 }\n",
         "*thresholds.dlq_min_retention_days*"),
        ("pyproject.toml", "[tool.stackgrade]\nrulez = {}\n", "*rulez: Extra inputs are not permitted*"),
        ("stackgrade.toml", "rules = { SG-NOPE-001 = false }\n", "*unknown rule ids [[]'SG-NOPE-001'[]]*"),
        # stackgrade.toml, because pytest itself reads (and rejects) a broken pyproject.toml it sees.
        ("stackgrade.toml", "[thresholds\n", "*stackgrade.toml: not valid TOML*"),
    ],
    ids=["out-of-range", "unknown-key", "unknown-rule", "not-toml"],
)
def test_bad_settings_are_a_usage_error(workdir, file, settings, message):
    (workdir.path / "bad").mkdir()
    (workdir.path / "bad" / file).write_text(settings)
    result = workdir.runpytest(*PLUGIN, "--stackgrade-assembly", "queues.yaml", "--stackgrade-config", "bad")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: --stackgrade-config: {message}"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_an_app_wide_rule_is_graded_on_the_first_stack_only(workdir, monkeypatch):
    from checks import pytest_plugin
    from rules.rule import Rule

    app_wide = Rule(id="SG-TST-001", title="The app spans two regions", severity="low", concerns=("dr",),
                    rationale="r", remediation="Deploy a second region.", scope="assembly",
                    check=lambda app, context: f"all {len(app.stacks)} stacks are in one region")
    monkeypatch.setattr(pytest_plugin, "_rules", lambda: (*all_rules(), app_wide))
    results = outcomes(workdir.inline_run(*PLUGIN, "--stackgrade-assembly", "nested-assembly", "-k", "SG-TST-001"))
    assert results == {
        # A finding without a resource names its stack.
        "Shop-dev::SG-TST-001": ("failed", "SG-TST-001 The app spans two regions (low, dr): 1 of 1 failed in Shop-dev\n"
                                           "  stack Shop-dev: all 3 stacks are in one region\n"
                                           "Fix: Deploy a second region."),
        "Audit-dev::SG-TST-001": ("skipped", "SG-TST-001 checks the whole app once; see stack Shop-dev"),
    }


def test_an_error_outside_the_rule_is_reported_with_its_traceback(workdir):
    # Another plugin (here a conftest) failing in the call phase is not a rule failure: pytest's own report.
    workdir.makeconftest("def pytest_runtest_call(item):\n    raise RuntimeError('another plugin broke')\n")
    results = outcomes(workdir.inline_run(*PLUGIN, "--stackgrade-assembly", "queues.yaml", "-k", "SG-LOG-001"))
    (outcome, text), = results.values()
    assert outcome == "failed"
    assert "E       RuntimeError: another plugin broke" in text and text.endswith("conftest.py:2: RuntimeError")
    assert "failed in queues" not in text and "Fix:" not in text
