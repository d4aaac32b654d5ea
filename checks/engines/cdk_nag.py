"""The cdk-nag engine: reads what cdk-nag reported during stackgrade's synthesis of the app.

cdk-nag runs inside the app's synthesis (see :mod:`checks.synthesis`), so this
engine only parses its output in the assembly: cdk-nag 3's
``validation-report.json`` (``violations`` and, for acknowledged ones,
``suppressedViolations`` with the reason) or cdk-nag 2's per-stack
``*-NagReport.json`` files (Compliant / Non-Compliant / Suppressed rows).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Iterable

from checks.assembly import Assembly, Resource
from checks.engines import EngineFailure, EngineMissing, EngineOptions, EngineResult
from checks.finding import Finding, SourceLocation, fingerprint
from checks.synthesis.record import RecordError, read_record, source_of
from rules.mapping import lookup

ENGINE = "cdk-nag"
V3_REPORT = "validation-report.json"
V2_REPORT_GLOB = "*-NagReport.json"
NOT_SYNTHESIZED = ("the input is an existing cloud assembly; cdk-nag runs during synthesis, "
                   "so grade the app directory to include it")
# `AwsSolutions-IAM5[Action::s3:*]`: a rule id with the detail cdk-nag found.
_GRANULAR = re.compile(r"^(?P<rule>[^\[]+)\[(?P<detail>.*)\]$")


@dataclass(frozen=True)
class NagRow:
    """One rule outcome on one construct, from either report format."""

    rule_id: str
    detail: str | None
    construct_path: str
    description: str
    level: str
    suppressed: bool = False
    reason: str | None = None
    compliant: bool = False


class CdkNagEngine:
    """cdk-nag's AwsSolutions / Serverless (and other) packs, as run during synthesis."""

    name: ClassVar[str] = ENGINE

    def prepare(self) -> str:
        """The cdk-nag installed beside stackgrade (the app's own comes from the synthesis record)."""
        from importlib import metadata

        try:
            return metadata.version("cdk-nag")
        except metadata.PackageNotFoundError:
            return ""

    def grade(self, assembly: Path, options: EngineOptions) -> EngineResult:
        try:
            record = read_record(Path(assembly))
        except RecordError as error:
            raise EngineFailure(str(error)) from error
        if record is None:
            return EngineResult(skipped_reason=NOT_SYNTHESIZED)
        nag = record["cdk_nag"]
        status = nag.get("status")
        if status == "missing":
            raise EngineMissing(nag.get("error") or "cdk-nag is not installed in the app's environment")
        if status == "error":
            raise EngineFailure(nag.get("error") or "cdk-nag failed during synthesis")
        if status != "ok":
            return EngineResult(skipped_reason=nag.get("reason") or "cdk-nag was skipped", version=nag.get("version"))
        rows = list(read_v3(Path(assembly)) if (nag.get("major") or 3) >= 3 else read_v2(Path(assembly)))
        result = to_result(rows, Assembly.load(assembly), nag.get("major") or 3, record)
        result.version = nag.get("version")
        return result


# --- report formats --------------------------------------------------------------------------------


def read_v3(assembly: Path) -> Iterable[NagRow]:
    """The rows of cdk-nag 3's report (absent when no plugin reported anything)."""
    report = _load_json(assembly / V3_REPORT)
    if report is None:
        return
    for plugin in report.get("pluginReports") or []:
        for violation, suppressed in [*((v, False) for v in plugin.get("violations") or []),
                                      *((v, True) for v in plugin.get("suppressedViolations") or [])]:
            rule_id, detail = split_rule(violation["ruleName"])
            for construct in violation.get("violatingConstructs") or []:
                yield NagRow(rule_id, detail, construct.get("constructPath") or "", violation.get("description", ""),
                             violation.get("severity", ""), suppressed,
                             (violation.get("reason") or None) if suppressed else None)


def read_v2(assembly: Path) -> Iterable[NagRow]:
    """The rows of cdk-nag 2's JSON NagReports (stage assemblies live in subfolders)."""
    for path in sorted(assembly.rglob(V2_REPORT_GLOB)):
        report = _load_json(path) or {}
        for line in report.get("lines") or []:
            rule_id, detail = split_rule(line["ruleId"])
            compliance = line.get("compliance", "")
            reason = line.get("exceptionReason")
            yield NagRow(rule_id, detail, line.get("resourceId", ""), line.get("ruleInfo", ""),
                         line.get("ruleLevel", ""), compliance == "Suppressed",
                         reason if compliance == "Suppressed" and reason not in (None, "", "N/A") else None,
                         compliance == "Compliant")


def split_rule(name: str) -> tuple[str, str | None]:
    """``AwsSolutions-IAM5[Action::s3:*]`` -> (``AwsSolutions-IAM5``, ``Action::s3:*``)."""
    match = _GRANULAR.match(name)
    return (match["rule"], match["detail"]) if match else (name, None)


def _load_json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise EngineFailure(f"cdk-nag's report {path} is unreadable ({error}); synthesize the app again") from error
    if not isinstance(data, dict):
        raise EngineFailure(f"cdk-nag's report {path} is not a JSON object; synthesize the app again")
    return data


# --- findings --------------------------------------------------------------------------------------


def to_result(rows: list[NagRow], assembly: Assembly, major: int, record: dict | None = None) -> EngineResult:
    """Findings, one per (rule, construct, suppression); granular details are listed in the message."""
    by_path = {r.construct_path: r for r in assembly.resources() if r.construct_path}
    result = EngineResult()
    groups: dict[tuple, list[NagRow]] = {}
    for row in rows:
        resource = by_path.get(row.construct_path.strip("/"))
        mapping = lookup(ENGINE, row.rule_id, row.level)
        if not mapping.mapped:
            result.unmapped.add(row.rule_id)
        if resource is not None:
            result.evaluated.add((resource.stack.name, resource.logical_id, mapping.category))
        if not row.compliant:
            key = (row.rule_id, row.construct_path, row.suppressed, row.reason)
            groups.setdefault(key, []).append(row)
    for group in groups.values():
        result.findings.append(to_finding(group, by_path.get(group[0].construct_path.strip("/")), major, record))
    return result


def to_finding(group: list[NagRow], resource: Resource | None, major: int, record: dict | None = None) -> Finding:
    first = group[0]
    source = source_of(record, first.construct_path)
    mapping = lookup(ENGINE, first.rule_id, first.level)
    details = sorted({row.detail for row in group if row.detail})
    description = first.description.strip() or f"{first.rule_id} is not met."
    message = description + (f" ({', '.join(details)})" if details else "")
    stack_name = resource.stack.name if resource else first.construct_path.strip("/").split("/")[0]
    return Finding(
        rule_id=first.rule_id,
        title=description.rstrip("."),
        severity=mapping.severity,
        category=mapping.category,
        concerns=mapping.concerns,
        engine=ENGINE,
        stack=resource.stack.top_level.name if resource else stack_name,
        logical_id=resource.logical_id if resource else None,
        resource_type=resource.type if resource else None,
        construct_path=first.construct_path.strip("/") or None,
        message=message,
        remediation=remediation(first.rule_id, details, major),
        source=SourceLocation(*source) if source else None,
        suppressed=first.suppressed,
        suppression_reason=first.reason,
        fingerprint=fingerprint(first.rule_id, stack_name, resource.logical_id if resource else None),
    )


def remediation(rule_id: str, details: list[str], major: int) -> str:
    """How to fix it, or how to acknowledge it with cdk-nag's own mechanism when it is intended."""
    ack_id = f"{rule_id}[{details[0]}]" if len(details) == 1 else rule_id
    pack = rule_id.split("-", 1)[0]
    if major >= 3:
        how = (f"Validations.of(construct).acknowledge(Acknowledgment(id=\"{pack}::{ack_id}\", "
               "reason=\"...\"))")
    else:
        how = f"NagSuppressions.add_resource_suppressions(construct, [{{\"id\": \"{ack_id}\", \"reason\": \"...\"}}])"
    return (f"Change the construct so that cdk-nag rule {rule_id} passes (its explanation is in cdk-nag's "
            f"RULES.md); if the finding is intended, acknowledge it with a reason: {how}.")
