"""Merge every engine's findings into one list: duplicates folded, suppressions applied, sources filled.

The adapters have already mapped their rule ids into our severities and concerns
(``rules/mapping``). Here:

1. each finding is located in the assembly (its resource, and the stack as in its
   fingerprint: a nested stack's own name);
2. the same concern on the same resource from several engines becomes ONE finding
   that lists every engine (:func:`dedupe`);
3. stackgrade's own suppressions (resource metadata, settings) are applied;
4. every suppression without a reason becomes a finding of SG-SUP-001 on the resource
   it silences, unless the catalogue rule already reported it from the template;
5. ``source`` (the CDK file and line) is filled from the synthesis record.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable, Mapping

from checks.assembly import Assembly, Resource
from checks.config import StackgradeConfig
from checks.engines import ENGINE_NAMES, EngineResult
from checks.finding import Finding, SourceLocation, fingerprint, worst_severity
from checks.suppressions import ConfigSuppressions, matches, reasonless, rule_ids, stackgrade_suppression
from checks.synthesis.record import source_of
from rules.catalogue.suppression_has_reason import RULE as REASON_RULE

OWN_ENGINE = "stackgrade"
STACK_SUBJECT = "(stack)"  # the resource key of a finding on a whole stack (as checks.own_rules names it)


@dataclass
class MergedFinding:
    """One finding of the scorecard with what the merge learned about it."""

    finding: Finding
    own_stack: str  # the stack as in the fingerprint: a nested stack's own name
    suppressed_by: str | None = None  # "engine" (the tool's own mechanism), "metadata" or "config"
    # The primary's fingerprint first, then each also-reported finding's, so a baseline still
    # recognizes the concern when another engine becomes the primary.
    fingerprints: tuple[str, ...] = ()
    resource: Resource | None = field(default=None, repr=False, compare=False)

    @property
    def resource_key(self) -> tuple[str, str]:
        return self.own_stack, self.finding.logical_id or STACK_SUBJECT


@dataclass
class MergeResult:
    findings: list[MergedFinding]
    evaluated: set[tuple[str, str, str]] = field(default_factory=set)
    unmapped: dict[str, list[str]] = field(default_factory=dict)
    unused_suppressions: list[dict] = field(default_factory=list)


class ResourceIndex:
    """Finds the resource a finding is about, by top-level (or own) stack name and logical ID."""

    def __init__(self, assembly: Assembly) -> None:
        self._by_key: dict[tuple[str, str], list[Resource]] = {}
        for resource in assembly.resources():
            for stack_name in dict.fromkeys((resource.stack.top_level.name, resource.stack.name)):
                self._by_key.setdefault((stack_name, resource.logical_id), []).append(resource)

    def find(self, finding: Finding) -> Resource | None:
        candidates = self._by_key.get((finding.stack, finding.logical_id or ""), [])
        if len(candidates) <= 1:
            return candidates[0] if candidates else None
        # Two nested stacks share the logical ID: the fingerprint (or the construct path) tells which.
        for resource in candidates:
            if fingerprint(finding.rule_id, resource.stack.name, resource.logical_id) == finding.fingerprint:
                return resource
        for resource in candidates:
            if finding.construct_path and resource.construct_path == finding.construct_path:
                return resource
        return candidates[0]


def merge(results: Mapping[str, EngineResult], assembly: Assembly, config: StackgradeConfig,
          synth_record: dict | None = None) -> MergeResult:
    """One list of findings from the results of the engines that ran (by engine name)."""
    index = ResourceIndex(assembly)
    located: list[tuple[Finding, Resource | None]] = []
    for result in results.values():
        for finding in result.findings:
            resource = index.find(finding)
            located.append((_complete(finding, resource), resource))
    reasonless_found = [(f, r, f"the {f.engine} suppression of {f.rule_id}")
                        for f, r in located if f.suppressed and f.suppression_reason is None]

    merged = dedupe(located)
    config_suppressions = ConfigSuppressions(config.suppressions)
    for item in merged:
        found = _apply_ours(item, config_suppressions)
        if found:
            reasonless_found.append((item.finding, item.resource, found))

    if config.enabled(REASON_RULE.id):
        flagged_stacks = {f.stack for f, _ in located if f.rule_id == REASON_RULE.id and f.engine == OWN_ENGINE}
        for item in _reason_findings(reasonless_found, flagged_stacks):
            _apply_ours(item, config_suppressions)
            merged.append(item)

    for item in merged:
        if item.finding.source is None:
            location = source_of(synth_record, item.finding.construct_path)
            if location is not None:
                item.finding = replace(item.finding, source=SourceLocation(*location))

    return MergeResult(
        findings=merged,
        evaluated=set().union(*(r.evaluated for r in results.values())),
        unmapped={name: sorted(r.unmapped) for name, r in results.items() if r.unmapped},
        unused_suppressions=config_suppressions.unused(),
    )


def _complete(finding: Finding, resource: Resource | None) -> Finding:
    """The finding with the resource type and construct path the template knows, where it lacks them."""
    if resource is None or (finding.resource_type and finding.construct_path):
        return finding
    return replace(finding, resource_type=finding.resource_type or resource.type,
                   construct_path=finding.construct_path or resource.construct_path)


# --- de-duplication ------------------------------------------------------------------------------


def precedence(engine: str) -> int:
    """The engine's place in :data:`checks.engines.ENGINE_NAMES` (own rules first; unknown engines last)."""
    return ENGINE_NAMES.index(engine) if engine in ENGINE_NAMES else len(ENGINE_NAMES)


def dedupe(located: Iterable[tuple[Finding, Resource | None]]) -> list[MergedFinding]:
    """Fold the same concern on the same resource from several engines into one finding.

    Findings are grouped by resource (own stack + logical ID) and suppression state, so the
    work is linear in the number of findings. Within a group, a finding joins the first
    cluster whose primary has the same concern (:func:`same_concern`) and that has no finding of its engine yet; the
    primary is the finding of the engine earliest in ``ENGINE_NAMES``. Findings without
    concerns (unmapped ids) and two findings of one engine are never merged.
    """
    groups: dict[tuple[str, str, bool], list[Finding]] = {}
    resources: dict[int, Resource | None] = {}
    for finding, resource in located:
        own_stack = resource.stack.name if resource is not None else finding.stack
        resources[id(finding)] = resource
        groups.setdefault((own_stack, finding.logical_id or STACK_SUBJECT, finding.suppressed), []).append(finding)
    merged = []
    for (own_stack, _, _), findings in groups.items():
        clusters: list[list[Finding]] = []
        for finding in sorted(findings, key=lambda f: (precedence(f.engine), f.rule_id)):
            home = next((c for c in clusters if same_concern(c[0], finding)
                         and all(f.engine != finding.engine for f in c)), None)
            if home is None:
                clusters.append([finding])
            else:
                home.append(finding)
        merged.extend(_combine(cluster, own_stack, resources[id(cluster[0])]) for cluster in clusters)
    return merged


def same_concern(first: Finding, second: Finding) -> bool:
    """Each finding's main (first) concern is among the other's: an API alarm rule (alarms, api) and a
    request-validation rule (api) share a word but not a concern; SQS3 (dlq) and SG-DLQ-001 (dlq) do."""
    return bool(first.concerns and second.concerns and first.concerns[0] in second.concerns
                and second.concerns[0] in first.concerns)


def _combine(cluster: list[Finding], own_stack: str, resource: Resource | None) -> MergedFinding:
    primary, others = cluster[0], cluster[1:]
    finding = primary
    if others:
        finding = replace(
            primary,
            severity=worst_severity(f.severity for f in cluster),
            engines=tuple(dict.fromkeys(e for f in cluster for e in f.engines)),
            also_reported_as=(*primary.also_reported_as, *(f"{f.engine}:{f.rule_id}" for f in others)),
            resource_type=primary.resource_type or next((f.resource_type for f in others if f.resource_type), None),
            construct_path=primary.construct_path or next((f.construct_path for f in others if f.construct_path),
                                                          None),
            source=primary.source or next((f.source for f in others if f.source), None),
            suppression_reason=next((f.suppression_reason for f in cluster if f.suppression_reason),
                                    primary.suppression_reason),
        )
    return MergedFinding(finding, own_stack, "engine" if finding.suppressed else None,
                         tuple(dict.fromkeys(f.fingerprint for f in cluster)), resource)


# --- suppressions --------------------------------------------------------------------------------


def _apply_ours(item: MergedFinding, settings: ConfigSuppressions) -> str | None:
    """Suppress ``item`` by resource metadata or settings; a description when that suppression has no reason.

    Settings are matched even against findings already suppressed, so an entry that still
    covers something is not reported as unused.
    """
    finding = item.finding
    setting = settings.match(finding, (finding.stack, item.own_stack), (finding.logical_id, finding.construct_path))
    if finding.suppressed:
        return None
    entry = stackgrade_suppression(item.resource.definition.get("Metadata") if item.resource else None, finding)
    if entry is not None:
        item.finding = replace(finding, suppressed=True, suppression_reason=entry.reason)
        item.suppressed_by = "metadata"
        return None if entry.reason else f"the stackgrade metadata suppression of {entry.rule}"
    if setting is not None:
        item.finding = replace(finding, suppressed=True, suppression_reason=setting.reason)
        item.suppressed_by = "config"
        return None if setting.reason else (
            f"the settings' suppression of {setting.rule} (resource {setting.resource!r}, stack {setting.stack!r})")
    return None


def _reason_findings(found: list[tuple[Finding, Resource | None, str]],
                     flagged_stacks: set[str]) -> list[MergedFinding]:
    """One SG-SUP-001 finding per resource whose suppressions give no reason.

    Skipped where the catalogue rule already reported that suppression from the template
    (it reports once per top-level stack, naming every resource).
    """
    by_resource: dict[tuple[str, str], tuple[Finding, Resource | None, list[str]]] = {}
    for finding, resource, description in found:
        if finding.stack in flagged_stacks and resource is not None and any(
                entry.rule and matches(entry.rule, rule_ids(finding))
                for entry in reasonless(resource.definition.get("Metadata"))):
            continue
        own_stack = resource.stack.name if resource is not None else finding.stack
        key = (own_stack, finding.logical_id or STACK_SUBJECT)
        descriptions = by_resource.setdefault(key, (finding, resource, []))[2]
        if description not in descriptions:
            descriptions.append(description)
    items = []
    for (own_stack, _), (finding, resource, descriptions) in by_resource.items():
        rule = REASON_RULE
        reported = Finding(
            rule_id=rule.id, title=rule.title, severity=rule.severity, category=rule.category,
            concerns=rule.concerns, engine=OWN_ENGINE, stack=finding.stack, logical_id=finding.logical_id,
            resource_type=finding.resource_type, construct_path=finding.construct_path,
            message=f"{len(descriptions)} suppression(s) give no reason: {'; '.join(descriptions)}",
            remediation=rule.remediation, fingerprint=fingerprint(rule.id, own_stack, finding.logical_id),
        )
        items.append(MergedFinding(reported, own_stack, None, (reported.fingerprint,), resource))
    return items
