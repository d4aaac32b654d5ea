"""Hand-built findings, engine results and small assemblies for the merge, score, gate and scorecard tests."""

from __future__ import annotations

from pathlib import Path

from checks.assembly import Assembly
from checks.config import StackgradeConfig
from checks.engines import EngineResult
from checks.finding import CATEGORY_OF_CONCERN, Finding, fingerprint
from checks.merge import MergedFinding
from checks.own_rules import STACK_SUBJECT, evaluate
from tests.checks.helpers import nested_stack_resource, stack_artifact, write_json, write_manifest


def make_finding(rule_id: str = "SG-DLQ-001", *, engine: str = "stackgrade", concerns: tuple[str, ...] = ("dlq",),
                 severity: str = "high", stack: str = "App", logical_id: str | None = "Queue",
                 own_stack: str | None = None, **extra) -> Finding:
    """A finding as an adapter returns it; ``own_stack`` is the nested stack's name in the fingerprint."""
    return Finding(
        rule_id=rule_id, title=f"title of {rule_id}", severity=severity,
        category=CATEGORY_OF_CONCERN[concerns[0]] if concerns else "security", concerns=concerns, engine=engine,
        stack=stack, logical_id=logical_id, resource_type=extra.pop("resource_type", "AWS::SQS::Queue"),
        construct_path=extra.pop("construct_path", None), message=f"{rule_id} is violated",
        remediation="fix it", **{"fingerprint": fingerprint(rule_id, own_stack or stack, logical_id), **extra},
    )


def merged(finding: Finding, own_stack: str | None = None, suppressed_by: str | None = None) -> MergedFinding:
    return MergedFinding(finding, own_stack or finding.stack, suppressed_by, (finding.fingerprint,))


def result(*findings: Finding, evaluated=(), unmapped=()) -> EngineResult:
    return EngineResult(findings=list(findings), evaluated=set(evaluated), unmapped=set(unmapped))


def own_rules_result(assembly: Assembly, config: StackgradeConfig | None = None) -> EngineResult:
    """The own-rules engine's result: its findings and every (own stack, subject, category) it examined."""
    evaluation = evaluate(assembly, config)
    evaluated = {(o.stack.name, o.resource.logical_id if o.resource else STACK_SUBJECT, o.rule.category)
                 for o in evaluation.outcomes}
    return EngineResult(findings=evaluation.findings, evaluated=evaluated)


def nested_assembly(directory: Path, top_queue_metadata: dict | None = None,
                    nested_queue_metadata: dict | None = None) -> Assembly:
    """Stack ``App`` with a queue ``Queue`` and a nested stack ``Inner`` that has a queue ``Queue`` too."""
    top_queue: dict = {"Type": "AWS::SQS::Queue", "Metadata": {"aws:cdk:path": "App/Queue/Resource"}}
    top_queue["Metadata"].update(top_queue_metadata or {})
    nested_queue: dict = {"Type": "AWS::SQS::Queue", "Metadata": {"aws:cdk:path": "App/Inner/Queue/Resource"}}
    nested_queue["Metadata"].update(nested_queue_metadata or {})
    write_json(directory / "App.template.json",
               {"Resources": {"Queue": top_queue, "Inner": nested_stack_resource("Inner.nested.template.json")}})
    write_json(directory / "Inner.nested.template.json", {"Resources": {"Queue": nested_queue}})
    write_manifest(directory, {"App": stack_artifact("App.template.json")})
    return Assembly.load(directory)
