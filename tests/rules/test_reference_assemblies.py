"""The catalogue against the reference systems: ideals are clean, baselines show their seeds' gaps.

Each ideal assembly must have no critical or high finding. Each baseline's
findings must cover the concerns its seed document lists as failures (the
seed's first implementation), restricted to concerns some rule can see in a
template: a seed gap no rule covers (a missing dashboard, a canary deployment)
or one the baseline gives a rule nothing to judge on (no alarms at all, so no
alarm action to check) is left out, with the reason.
"""

from __future__ import annotations

import pytest

from checks.config import StackgradeConfig
from checks.own_rules import evaluate
from reference_stacks.catalog import SYSTEMS

BLOCKING = ("critical", "high")

# Settings a system's seed asks for (rules that do nothing until configured).
SETTINGS = {
    # 004 #3 requirement 18: cost allocation tags on ALL resources: Project, Environment, CostCenter.
    "pattern_detection": StackgradeConfig(required_tags=("Project", "Environment", "CostCenter")),
}

# Concerns each baseline must show, by the seed item that documents the gap.
SEED_GAPS: dict[str, dict[str, str]] = {
    "webhook_pipeline": {  # seed 000
        "alarms": "Initial gaps: no CloudWatch alarms (functions, queues, DLQs, API)",
        "tracing": "Initial gaps: no X-Ray tracing across the request flow",
        # Not "alarm-actions" ("no SNS topic"): with no alarm at all there is no action to judge.
    },
    "order_processing_fargate": {  # seed 001
        "alarms": "#2 Eight CloudWatch alarms (ALB unhealthy targets, service CPU/memory/tasks, DLQ)",
        "alarm-actions": "#1 SNS topic for centralized alerting, #3 alarm action integration",
    },
    "payments_dr": {  # seed 002
        "dr": "#1 Missing DynamoDB global table configuration",
        "backup": "#1 Missing DynamoDB global table configuration (point-in-time recovery)",
        "api": "#3 Missing API Gateway Lambda integrations (stage throttling, logging, alarms)",
        "dlq": "#4 Missing SQS dead letter queue",
        "encryption": "#4 no encryption enabled on the queue",
        "alarms": "#8 Missing CloudWatch alarms",
        "log-retention": "#9 Missing CloudWatch log groups (logs retained indefinitely)",
        "logging": "#9 Missing CloudWatch log groups (no log group configuration)",
        "outputs": "#10 Missing CloudFormation outputs",
        "compute-config": "#13 Missing Lambda configuration details (timeout, memory)",
        # Not "iam" (#5): the baseline has no policies at all, so none is over-broad. #14 (removal
        # policies) is not separate: CDK writes an explicit DeletionPolicy on stateful resources anyway.
        # Not "alarm-actions" (#6): no alarms, so no action to judge. Not "dashboards" (#7): no rule.
    },
    "order_pipeline": {  # seed 003
        "dlq": "#1 Missing dead letter queue configuration",
        "alarms": "#3 Missing CloudWatch alarms",
        "tracing": "#5 No X-Ray tracing enabled",
        "api": "#6 Missing API Gateway request validation",
        "compute-config": "#7 No reserved concurrency for order processor",
        "log-retention": "#8 Missing CloudWatch log retention",
        "event-source": "#9 Missing SQS batch processing configuration",
        "outputs": "#10 Incomplete stack outputs",
        "backup": "#11 Missing point-in-time recovery for DynamoDB",
        "logging": "#12 No API Gateway stage configuration (logging, metrics)",
    },
    "pattern_detection": {  # seed 004
        "retries": "#3 req 13: Step Functions retry with backoff and catch",
        "logging": "#3 req 13: state machine CloudWatch Logs integration",
        "encryption": "#3 req 14: Kinesis customer-managed KMS encryption",
        "waf": "#3 req 16: AWS WAF web ACL associated with the API",
        "alarms": "#3 req 15: alarm on canary errors (the baseline alarms on nothing)",
        "tags": "#3 req 18: cost allocation tags on all resources",
        "naming": "#4 Missing resource naming with environment suffix",
        "tracing": "#7 Missing X-Ray tracing implementation",
        # Not "event-source" (#3 req 14, bisect on error): the baseline has no stream consumer mapping.
        # Not "deployment" (#3 req 15 canary) or "dashboards" (#3 req 17): no rule covers them.
    },
}


def test_every_system_has_expected_gaps():
    assert set(SEED_GAPS) == set(SYSTEMS)


@pytest.fixture(scope="module")
def findings_of(reference_stack):
    """``findings_of(system, variant)`` -> findings of the whole catalogue on the synthesized assembly."""
    cache: dict[tuple[str, str], list] = {}

    def findings(system: str, variant: str) -> list:
        if (system, variant) not in cache:
            directory = reference_stack(system, variant).node.root.synth().directory
            cache[(system, variant)] = evaluate(directory, SETTINGS.get(system)).findings
        return cache[(system, variant)]

    return findings


@pytest.mark.parametrize("system", sorted(SYSTEMS))
def test_ideal_has_no_critical_or_high_finding(findings_of, system):
    blocking = [f for f in findings_of(system, "ideal") if f.severity in BLOCKING]
    assert not blocking, f"{system}-ideal has {len(blocking)} critical/high finding(s):\n" + "\n".join(
        f"  {f.rule_id} ({f.severity}) {f.construct_path or f.stack + '/' + str(f.logical_id)}: {f.message}"
        for f in blocking
    )


@pytest.mark.parametrize("system", sorted(SYSTEMS))
def test_baseline_shows_the_gaps_its_seed_lists(findings_of, system):
    found = {concern for finding in findings_of(system, "baseline") for concern in finding.concerns}
    missing = {concern: item for concern, item in SEED_GAPS[system].items() if concern not in found}
    assert not missing, f"{system}-baseline has no finding for: " + "; ".join(
        f"{concern} ({SYSTEMS[system].seed[:3]} {item})" for concern, item in sorted(missing.items())
    ) + f". Concerns found: {sorted(found)}"
