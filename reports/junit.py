"""JUnit XML, rendered from a ``stackgrade/scorecard@1`` dict alone, so CI systems show findings natively.

One ``<testsuite>`` per top-level stack, one ``<testcase>`` per rule with a finding on it:
a ``<failure>`` listing every offending resource (construct path) with its message when
any finding is unsuppressed, ``<skipped>`` when all were suppressed. A last suite,
``stackgrade``, holds one test case per engine (``<error>`` when it errored, ``<skipped>``
when skipped) and one for the gate. The scorecard does not list the rules that passed, so
only rules with a finding appear. A scorecard with a ``live`` section adds a suite ``live`` with a
test case per probe (``<failure>`` when it failed, ``<skipped>`` when not emulated). :func:`render_junit_combined` puts several targets in one document,
every suite and test class named after its target.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from checks.finding import worst_severity
from checks.scorecard import check_scorecard
from reports import finding_subject

ENGINE_SUITE = "stackgrade"
LIVE_SUITE = "live"  # one test case per live probe, when the scorecard has a live section
# XML 1.0 forbids most control characters even escaped; a message quoting odd template text must not break CI.
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def render_junit(scorecard: dict) -> str:
    """The JUnit XML document (UTF-8 text) of one scorecard; ScorecardError if it is none."""
    check_scorecard(scorecard, "the scorecard to render as JUnit XML")
    root = ET.Element("testsuites", name=_clean(f"stackgrade {scorecard['target'].get('name', '')}".strip()))
    _add_suites(root, scorecard, "")
    return _document(root)


def render_junit_combined(scorecards: list[dict]) -> str:
    """One JUnit XML document for several scorecards: each target's suites, named ``<target>/<suite>``."""
    for scorecard in scorecards:
        check_scorecard(scorecard, "the scorecard to render as JUnit XML")
    root = ET.Element("testsuites", name="stackgrade")
    for scorecard in scorecards:
        _add_suites(root, scorecard, f"{scorecard['target'].get('name', 'target')}/")
    return _document(root)


def _add_suites(root: ET.Element, scorecard: dict, prefix: str) -> None:
    for stack, findings in _by_stack(scorecard).items():
        suite = _suite(root, prefix + stack, scorecard)
        for rule_id, group in _by_rule(findings).items():
            _rule_case(suite, prefix + stack, rule_id, group)
    if isinstance(scorecard.get("live"), dict):
        suite = _suite(root, prefix + LIVE_SUITE, scorecard)
        for probe in scorecard["live"].get("probes") or []:
            _probe_case(suite, probe, prefix)
    suite = _suite(root, prefix + ENGINE_SUITE, scorecard)
    for engine in scorecard["engines"]:
        _engine_case(suite, engine, prefix)
    _gate_case(suite, scorecard["gate"], prefix)


def _document(root: ET.Element) -> str:
    for element in [*root, root]:
        _count(element)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _by_stack(scorecard: dict) -> dict[str, list[dict]]:
    """Findings per top-level stack, the scorecard's stacks first (a stack without findings gets an empty suite)."""
    stacks: dict[str, list[dict]] = {stack["name"]: [] for stack in scorecard["stacks"]}
    for finding in scorecard["findings"]:
        stacks.setdefault(finding["stack"], []).append(finding)
    return stacks


def _by_rule(findings: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for finding in sorted(findings, key=lambda f: (f["rule_id"], f.get("logical_id") or "")):
        grouped.setdefault(finding["rule_id"], []).append(finding)
    return grouped


def _suite(root: ET.Element, name: str, scorecard: dict) -> ET.Element:
    attributes = {"name": _clean(name)}
    if scorecard.get("generated_at"):
        # The JUnit XSD's timestamp has no zone; generated_at is always UTC, so its offset is dropped.
        attributes["timestamp"] = scorecard["generated_at"][:19]
    return ET.SubElement(root, "testsuite", attributes)


def _rule_case(suite: ET.Element, stack: str, rule_id: str, findings: list[dict]) -> None:
    title = findings[0].get("title") or rule_id
    case = ET.SubElement(suite, "testcase", classname=_clean(f"{stack}.{rule_id}"), name=_clean(f"{rule_id}: {title}"))
    failing = [f for f in findings if not f.get("suppressed")]
    suppressed = [f for f in findings if f.get("suppressed")]
    if failing:
        severity = worst_severity(f["severity"] for f in failing)
        count = f"{len(failing)} resource{'s' if len(failing) != 1 else ''}"
        failure = ET.SubElement(case, "failure", type=severity,
                                message=_clean(f"{severity}: {rule_id} fails on {count}: "
                                               + ", ".join(finding_subject(f) for f in failing)))
        failure.text = _clean("\n".join(_failure_line(f) for f in failing) + f"\nFix: {failing[0].get('remediation')}")
    elif suppressed:
        ET.SubElement(case, "skipped", message=_clean(f"suppressed on {len(suppressed)} resource"
                                                      f"{'s' if len(suppressed) != 1 else ''}"))
    if suppressed:
        out = ET.SubElement(case, "system-out")
        out.text = _clean("\n".join(f"suppressed: {finding_subject(f)}: {f.get('suppression_reason') or 'no reason given'}"
                                    for f in suppressed))


def _failure_line(finding: dict) -> str:
    also = f" (also {', '.join(finding['also_reported_as'])})" if finding.get("also_reported_as") else ""
    return f"{finding['severity']}: {finding_subject(finding)} [{finding.get('resource_type') or 'stack'}]: " \
           f"{finding['message']}{also}"


def _engine_case(suite: ET.Element, engine: dict, prefix: str = "") -> None:
    case = ET.SubElement(suite, "testcase", classname=_clean(f"{prefix}{ENGINE_SUITE}.engines"), name=_clean(f"engine {engine['name']}"),
                         time=f"{float(engine.get('seconds') or 0):.2f}")
    status, reason = engine.get("status"), _clean(engine.get("error") or "no reason given")
    if status == "error":
        error = ET.SubElement(case, "error", type="EngineError", message=f"{engine['name']} failed: {reason}")
        error.text = reason
    elif status == "skipped":
        ET.SubElement(case, "skipped", message=f"{engine['name']} was skipped: {reason}")


def _probe_case(suite: ET.Element, probe: dict, prefix: str = "") -> None:
    """A live probe: ``<failure>`` when it failed, ``<skipped>`` when its resource is not emulated."""
    subject = "/".join(str(x) for x in (probe.get("stack"), probe.get("resource")) if x)
    case = ET.SubElement(suite, "testcase", classname=_clean(f"{prefix}{LIVE_SUITE}.{probe.get('kind')}"),
                         name=_clean(f"{probe.get('kind')} {subject}"), time=f"{float(probe.get('seconds') or 0):.2f}")
    detail = _clean(probe.get("detail") or "")
    if probe.get("result") == "fail":
        failure = ET.SubElement(case, "failure", type=_clean(probe.get("rule_id") or "probe"), message=detail)
        failure.text = detail
    elif probe.get("result") != "pass":
        ET.SubElement(case, "skipped", message=detail or "not emulated")


def _gate_case(suite: ET.Element, gate: dict, prefix: str = "") -> None:
    case = ET.SubElement(suite, "testcase", classname=_clean(f"{prefix}{ENGINE_SUITE}.gate"), name="gate")
    if not gate.get("passed"):
        reasons = [_clean(reason) for reason in gate.get("reasons") or []]
        failure = ET.SubElement(case, "failure", type="gate", message="; ".join(reasons) or "the gate failed")
        failure.text = "\n".join(reasons)


def _count(element: ET.Element) -> None:
    """The counts attributes strict consumers check: tests, failures, errors, skipped, time."""
    cases = element.iter("testcase")
    tests = failures = errors = skipped = 0
    seconds = 0.0
    for case in cases:
        tests += 1
        failures += case.find("failure") is not None
        errors += case.find("error") is not None
        skipped += case.find("skipped") is not None
        seconds += float(case.get("time", "0"))
    element.set("tests", str(tests))
    element.set("failures", str(failures))
    element.set("errors", str(errors))
    element.set("skipped", str(skipped))
    element.set("time", f"{seconds:.2f}")


def _clean(text: str) -> str:
    return _ILLEGAL_XML.sub("\ufffd", str(text))
