"""SARIF 2.1.0 for code scanning, rendered from ``stackgrade/scorecard@1`` dicts alone.

One run per graded target, one tool ("stackgrade") whose rules are every rule id with a finding,
whichever engine reported it. A result points at the CDK source line that created the resource when
the scorecard knows it (Python apps), else at the resource's line in its own stack's template (a nested
stack's own ``*.nested.template.json``); its logical location is the construct path.
``partialFingerprints`` carry the finding's fingerprint, so code scanning keeps one alert per rule,
stack and resource across runs.

Paths are relative to the repository root (``%SRCROOT%``) when the scorecard's ``target.locations``
says where the app sits in its git work tree (or ``--sarif-path-prefix`` said it: :func:`with_path_prefix`),
else relative to the app directory.
"""

from __future__ import annotations

import copy
import json
import posixpath
import re
from collections.abc import Sequence
from pathlib import PurePosixPath
from urllib.parse import quote

from checks.finding import worst_severity
from checks.scorecard import check_scorecard
from reports import ReportError, finding_subject

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SRCROOT = "%SRCROOT%"
FINGERPRINT_KEY = "stackgrade/v1"

LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
# GitHub code scanning reads "security-severity" (0.0-10.0): > 9 critical, 7-8.9 high, 4-6.9 medium, < 4 low.
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "2.0", "info": "0.0"}
# Where the engine's own mechanism or resource metadata suppressed a finding, the reason sits in the
# code or template (inSource); a settings file is outside it (external).
SUPPRESSION_KINDS = {"engine": "inSource", "metadata": "inSource", "config": "external"}


class PathPrefixError(ReportError):
    """A ``--sarif-path-prefix`` that is not a relative path inside the repository."""


def render_sarif(scorecard: dict) -> dict:
    """The SARIF log (a JSON-ready dict) of one scorecard; :class:`checks.scorecard.ScorecardError` if it is none."""
    return render_sarif_log([scorecard])


def render_sarif_log(scorecards: Sequence[dict]) -> dict:
    """One SARIF log with one run per scorecard (each its own code scanning category)."""
    for scorecard in scorecards:
        check_scorecard(scorecard, "the scorecard to render as SARIF")
    return {"$schema": SARIF_SCHEMA_URI, "version": SARIF_VERSION, "runs": [_run(card) for card in scorecards]}


def sarif_text(scorecard: dict | Sequence[dict]) -> str:
    """:func:`render_sarif` (or :func:`render_sarif_log` of a list) as the text of a ``.sarif`` file
    (2-space indented JSON, UTF-8)."""
    cards = [scorecard] if isinstance(scorecard, dict) else list(scorecard)
    return json.dumps(render_sarif_log(cards), indent=2, ensure_ascii=False) + "\n"


def _run(scorecard: dict) -> dict:
    findings = scorecard["findings"]
    rules = _rules(findings)
    index = {rule["id"]: position for position, rule in enumerate(rules)}
    run = {
        "tool": {"driver": {
            "name": "stackgrade",
            "version": scorecard["stackgrade_version"],
            "rules": rules,
        }},
        # A category per target, so code scanning keeps the alerts of several graded apps apart.
        "automationDetails": {"id": f"stackgrade/{scorecard['target'].get('name', 'target')}/"},
        "invocations": [_invocation(scorecard)],
        "originalUriBaseIds": {SRCROOT: {"description": {"text": _root_description(scorecard)}}},
        "results": [_result(finding, index[finding["rule_id"]], scorecard) for finding in findings],
        "properties": _run_properties(scorecard),
    }
    return run


# --- rules ---------------------------------------------------------------------------------------


def _rules(findings: list[dict]) -> list[dict]:
    """One reportingDescriptor per rule id, in order of first appearance (the scorecard's order)."""
    grouped: dict[str, list[dict]] = {}
    for finding in findings:
        grouped.setdefault(finding["rule_id"], []).append(finding)
    return [_rule(rule_id, group) for rule_id, group in grouped.items()]


def _rule(rule_id: str, findings: list[dict]) -> dict:
    first = findings[0]
    severity = worst_severity(f["severity"] for f in findings)
    title = first.get("title") or rule_id
    engines = list(dict.fromkeys(e for f in findings for e in (f.get("engines") or [f["engine"]])))
    concerns = list(dict.fromkeys(c for f in findings for c in f.get("concerns") or []))
    remediation = first.get("remediation") or title
    return {
        "id": rule_id,
        "name": _identifier(title) or rule_id,
        "shortDescription": {"text": title},
        "help": {"text": remediation, "markdown": remediation},
        "defaultConfiguration": {"level": LEVELS[severity]},
        "properties": {
            "tags": list(dict.fromkeys([first["category"], *concerns, *engines])),
            "security-severity": SECURITY_SEVERITY[severity],
            "severity": severity,
            "category": first["category"],
            "concerns": concerns,
            "engines": engines,
        },
    }


def _identifier(title: str) -> str:
    """SARIF's rule ``name`` is an identifier: the title in PascalCase ("SqsQueuesHaveADeadLetterQueue")."""
    return "".join(word[:1].upper() + word[1:] for word in re.findall(r"[A-Za-z0-9]+", title))


# --- results -------------------------------------------------------------------------------------


def _result(finding: dict, rule_index: int, scorecard: dict) -> dict:
    subject = finding_subject(finding)
    result = {
        "ruleId": finding["rule_id"],
        "ruleIndex": rule_index,
        "level": LEVELS[finding["severity"]],
        "message": {"text": f"{subject}: {finding['message']}"},
        "locations": [{
            "physicalLocation": _physical_location(finding, scorecard),
            "logicalLocations": [_logical_location(finding, subject)],
        }],
        "partialFingerprints": {FINGERPRINT_KEY: finding["fingerprint"]},
        "properties": _result_properties(finding),
    }
    if finding.get("suppressed"):
        result["suppressions"] = [_suppression(finding)]
    return result


def _physical_location(finding: dict, scorecard: dict) -> dict:
    locations = scorecard["target"].get("locations") or {}
    source = finding.get("source")
    if source and source.get("file"):
        return {"artifactLocation": _artifact(source["file"], locations.get("sources_in_repo")),
                "region": {"startLine": max(int(source.get("line") or 1), 1)}}
    # Without a line of the resource in its template (a stack-wide finding), line 1 of the template.
    return {"artifactLocation": _template_artifact(finding, scorecard, locations),
            "region": {"startLine": max(int(finding.get("template_line") or 1), 1)}}


def _template_artifact(finding: dict, scorecard: dict, locations: dict) -> dict:
    """The template of the stack the resource is in: from ``target.locations`` when the scorecard has them
    (scorecards of older versions: ``<assembly>/<top-level stack>.template.json``)."""
    stack = finding.get("nested_stack") or finding["stack"]
    template = (locations.get("templates") or {}).get(stack)
    if template is not None:
        if locations.get("sources_in_repo") is not None:
            if locations.get("templates_in_repo") is not None:
                return _artifact(posixpath.join(locations["templates_in_repo"], template), "")
        elif locations.get("templates_in_sources") is not None:
            return _artifact(posixpath.join(locations["templates_in_sources"], template), None)
    assembly = scorecard["target"].get("assembly")
    name = template or f"{finding['stack']}.template.json"
    return _artifact(str(PurePosixPath(assembly) / name) if assembly else name, None)


def _artifact(path: str, base: str | None) -> dict:
    """A relative path against %SRCROOT%, with ``base`` (the folder it is relative to, from the repository
    root) in front when known; an absolute path as a file URI."""
    posix = PurePosixPath(path.replace("\\", "/"))
    if posix.is_absolute():
        return {"uri": "file://" + quote(str(posix))}
    joined = posixpath.normpath(posixpath.join(base, str(posix))) if base else str(posix)
    return {"uri": quote(joined), "uriBaseId": SRCROOT}


def _root_description(scorecard: dict) -> str:
    if (scorecard["target"].get("locations") or {}).get("sources_in_repo") is not None:
        return "The root of the repository (the git work tree the app is in)."
    return "The CDK app directory (no git work tree found; --sarif-path-prefix names its place in the repository)."


# --- the app's place in the repository -----------------------------------------------------------


def check_path_prefix(prefix: str) -> str:
    """``prefix`` as a normalized relative POSIX path ("" for the repository root); :class:`PathPrefixError`
    when it is absolute or leaves the repository."""
    posix = prefix.replace("\\", "/").strip()
    normalized = posixpath.normpath(posix) if posix else "."
    if posixpath.isabs(posix) or re.match(r"^[A-Za-z]:", posix) or normalized == ".." or \
            normalized.startswith("../"):
        raise PathPrefixError(f"--sarif-path-prefix {prefix!r} must be a path relative to the repository root "
                              "(like infra/app, or . for the root), the folder of the app in the repository")
    return "" if normalized == "." else normalized


def with_path_prefix(scorecard: dict, prefix: str | None) -> dict:
    """The scorecard as if its app directory (the folder source files are relative to) sat at ``prefix`` in
    the repository, whatever git said at grading time; unchanged when ``prefix`` is None."""
    if prefix is None:
        return scorecard
    prefix = check_path_prefix(prefix)
    card = copy.deepcopy(scorecard)
    locations = card["target"].setdefault("locations", {})
    inside = locations.get("templates_in_sources")
    locations["sources_in_repo"] = prefix or "."
    # Templates outside the app directory have no known place relative to the prefix.
    locations["templates_in_repo"] = posixpath.normpath(posixpath.join(prefix, inside)) if inside is not None \
        else None
    return card


def _logical_location(finding: dict, subject: str) -> dict:
    return {"name": finding.get("logical_id") or finding["stack"], "fullyQualifiedName": subject,
            "kind": "resource" if finding.get("logical_id") else "module"}


def _suppression(finding: dict) -> dict:
    suppression = {"kind": SUPPRESSION_KINDS.get(finding.get("suppression_source"), "external"), "status": "accepted"}
    if finding.get("suppression_reason"):
        suppression["justification"] = finding["suppression_reason"]
    return suppression


def _result_properties(finding: dict) -> dict:
    properties = {
        "severity": finding["severity"],
        "category": finding["category"],
        "stack": finding["stack"],
        "logicalId": finding.get("logical_id"),
        "resourceType": finding.get("resource_type"),
        "engines": finding.get("engines") or [finding["engine"]],
        "alsoReportedAs": finding.get("also_reported_as") or [],
        "remediation": finding.get("remediation"),
    }
    if "new" in finding:
        properties["new"] = finding["new"]
    return properties


# --- the run -------------------------------------------------------------------------------------


def _invocation(scorecard: dict) -> dict:
    """Whether every engine ran; an engine that errored or was skipped is a notification."""
    notifications = []
    for engine in scorecard["engines"]:
        if engine.get("status") == "ok":
            continue
        failed = engine.get("status") == "error"
        what = "failed" if failed else "was skipped"
        notifications.append({
            "level": "error" if failed else "note",
            "message": {"text": f"{engine['name']} {what}: {engine.get('error') or 'no reason given'}"},
            "descriptor": {"id": f"engine/{engine['name']}"},
        })
    invocation = {"executionSuccessful": not any(e.get("status") == "error" for e in scorecard["engines"])}
    if scorecard.get("generated_at"):
        # SARIF's date-times are UTC written with a "Z" (ISO 8601's "+00:00" is not its form).
        invocation["endTimeUtc"] = scorecard["generated_at"].replace("+00:00", "Z")
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    return invocation


def _run_properties(scorecard: dict) -> dict:
    scores, gate = scorecard["scores"], scorecard["gate"]
    return {
        "target": scorecard["target"].get("name"),
        "score": scores.get("overall"),
        "grade": scores.get("grade"),
        "gatePassed": gate.get("passed"),
        "gateReasons": gate.get("reasons") or [],
        "engines": {e["name"]: {"version": e.get("version"), "status": e.get("status")}
                    for e in scorecard["engines"]},
    }
