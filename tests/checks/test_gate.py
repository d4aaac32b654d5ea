"""The gate's conditions, each alone, and the comparison with a baseline scorecard."""

from __future__ import annotations

from checks.config import GateSettings
from checks.gate import decide, diff_against
from checks.score import score
from checks.scorecard import EngineRun
from tests.checks.merge_helpers import make_finding, merged, result

OK_RUN = EngineRun("stackgrade", "0.1.0", "ok", 0.2, result=result())
DEFAULT = GateSettings()


def evaluated(count: int) -> set[tuple[str, str, str]]:
    return {("App", f"Queue{n}", "reliability") for n in range(count)}


def gate(findings, examined=100, runs=(OK_RUN,), settings=DEFAULT, diff=None):
    return decide(findings, score(findings, evaluated(examined)), runs, settings, diff)


def baseline_of(findings, overall_score=None) -> dict:
    return {"findings": [{"fingerprint": i.finding.fingerprint, "fingerprints": list(i.fingerprints)}
                         for i in findings],
            "scores": {"overall": overall_score}}


def test_a_clean_app_passes():
    assert gate([]) == {"passed": True, "reasons": [], "min_score": 7.0, "fail_on": ["critical", "high"],
                        "baseline": None}


def test_an_engine_error_fails_and_names_the_engine():
    runs = (OK_RUN, EngineRun("checkov", None, "error", 300.0, error="timed out after 300 s"),
            EngineRun("cfn-guard", None, "error", 0.1, error="\n  Traceback (most recent call last):\n  ..."),
            EngineRun("cdk-nag", None, "error", 0.1),
            EngineRun("live", None, "skipped", 0.0, error="not asked for"))
    outcome = gate([], runs=runs)
    assert not outcome["passed"]
    assert outcome["reasons"] == ["engine error: checkov timed out after 300 s",
                                  "engine error: cfn-guard Traceback (most recent call last):",
                                  "engine error: cdk-nag failed without a message"]


def test_a_long_error_is_cut_in_the_reason():
    reason = gate([], runs=(EngineRun("checkov", None, "error", 1.0, error="x" * 1000),))["reasons"][0]
    assert reason == "engine error: checkov " + "x" * 297 + "..."


def test_an_unsuppressed_finding_at_a_failing_severity_fails():
    findings = [merged(make_finding(f"SG-DLQ-00{n}", logical_id=f"Queue{n}")) for n in range(1, 8)]
    findings.append(merged(make_finding("SG-X-001", severity="critical", logical_id=None)))
    findings.append(merged(make_finding("SG-X-002", severity="medium")))
    outcome = gate(findings, examined=1000)
    assert outcome["reasons"] == [
        "1 unsuppressed critical finding: SG-X-001 on App/(stack)",
        "7 unsuppressed high findings: SG-DLQ-001 on App/Queue1, SG-DLQ-002 on App/Queue2, SG-DLQ-003 on App/Queue3, "
        "SG-DLQ-004 on App/Queue4, SG-DLQ-005 on App/Queue5 and 2 more",
    ]


def test_suppressed_and_lower_severity_findings_do_not_fail():
    findings = [merged(make_finding(suppressed=True, suppression_reason="accepted"), suppressed_by="config"),
                merged(make_finding("SG-X-002", severity="medium"))]
    assert gate(findings)["passed"]


def test_fail_on_is_configurable():
    medium = [merged(make_finding("SG-X-002", severity="medium"))]
    settings = GateSettings(fail_on=("medium",))
    assert gate(medium, settings=settings)["reasons"] == ["1 unsuppressed medium finding: SG-X-002 on App/Queue"]
    assert gate([merged(make_finding(severity="critical"))], settings=GateSettings(fail_on=()), examined=1000)["passed"]


def test_a_score_under_the_minimum_fails():
    # 2 resources, one medium finding: 10 * 2 / 4 = 5.0
    outcome = gate([merged(make_finding("SG-X-002", severity="medium", logical_id="Queue0"))], examined=2)
    assert outcome["reasons"] == ["overall score 5.0 is under the minimum 7.0"]
    assert gate([merged(make_finding("SG-X-002", severity="medium", logical_id="Queue0"))], examined=2,
                settings=GateSettings(min_score=5))["passed"]


def test_the_gate_decides_on_the_exact_score():
    # 699 resources, penalty 301 (150 medium + 1 low): exactly 6.99, which round() would show as 7.0
    findings = [merged(make_finding(f"SG-X-{n:03}", severity="medium", logical_id=f"Queue{n}")) for n in range(150)]
    findings.append(merged(make_finding("SG-Y-001", severity="low", logical_id="Queue200")))
    assert gate(findings, examined=699)["reasons"] == ["overall score 6.9 is under the minimum 7.0"]
    assert gate(findings, examined=703)["passed"]  # 10 * 703 / 1004 = 7.0019...


def test_no_examined_resource_means_no_score_condition():
    assert gate([], examined=0)["passed"]


# --- baseline ------------------------------------------------------------------------------------


def test_with_a_baseline_only_new_findings_fail():
    old = merged(make_finding("SG-DLQ-001", logical_id="Queue1"))
    fixed = merged(make_finding("SG-DLQ-002", logical_id="Queue2"))
    new = merged(make_finding("SG-DLQ-003", logical_id="Queue3"))
    diff = diff_against([old, new], baseline_of([old, fixed], 9.5), "base/scorecard.json")
    assert not diff.is_new(old) and diff.is_new(new)
    outcome = gate([old, new], diff=diff)
    assert outcome["reasons"] == ["1 new unsuppressed high finding: SG-DLQ-003 on App/Queue3"]
    assert outcome["baseline"] == {
        "path": "base/scorecard.json", "score": 9.5,
        "new": {"count": 1, "fingerprints": [new.finding.fingerprint]},
        "fixed": {"count": 1, "fingerprints": [fixed.finding.fingerprint]},
        "unchanged": {"count": 1, "fingerprints": [old.finding.fingerprint]},
    }
    assert gate([old], diff=diff_against([old], baseline_of([old, fixed])))["passed"]


def test_a_concern_is_known_when_another_engine_became_the_primary():
    nag = make_finding("AwsSolutions-SQS3", engine="cdk-nag")
    own = make_finding("SG-DLQ-001")
    before = merged(own)
    before.fingerprints = (own.fingerprint, nag.fingerprint)
    now = merged(nag)  # own rules were skipped this time
    diff = diff_against([now], baseline_of([before]))
    assert not diff.is_new(now) and diff.fixed == () and diff.unchanged == (nag.fingerprint,)


def test_an_old_scorecard_without_the_fingerprints_list_still_compares():
    old = merged(make_finding())
    diff = diff_against([old], {"findings": [{"fingerprint": old.finding.fingerprint}, {}],
                                "scores": {"overall": 3.0}})
    assert not diff.is_new(old) and diff.fixed == ()


def test_with_a_baseline_a_low_score_fails_only_when_it_got_worse():
    findings = [merged(make_finding("SG-X-002", severity="medium", logical_id="Queue0"))]  # 5.0 on 2 resources
    adopt = diff_against(findings, baseline_of(findings, 5.0))
    assert gate(findings, examined=2, diff=adopt)["passed"]  # same score as the legacy baseline
    worse = diff_against(findings, baseline_of(findings, 5.1))
    assert gate(findings, examined=2, diff=worse)["reasons"] == [
        "overall score 5.0 is under the minimum 7.0 and lower than the baseline's (which scored 5.1)"]
    unscored = diff_against(findings, baseline_of(findings, None))
    assert gate(findings, examined=2, diff=unscored)["reasons"] == [
        "overall score 5.0 is under the minimum 7.0 and lower than the baseline's (which has none)"]
