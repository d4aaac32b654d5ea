"""The live rules: what the probes of ``checks/live/probes/`` prove on a deployed app, one entry per rule.

A live rule has the same metadata as a catalogue rule (id, title, severity, concerns, rationale,
remediation, seeds) plus ``probe``, how it is proven against the emulator, and ``kinds``, the probe
kinds whose failures it reports (a probe result carries its rule id). Its check is not a function
over the template but a probe of the deployed resources; :func:`live_rule` is how the live step
finds the metadata of a failed probe, and ``rules.docs`` renders a page per rule from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from checks.finding import CATEGORY_OF_CONCERN
from rules.rule import metadata_problems

ENGINE = "live"
PROBES_SOURCE = "checks/live/probes"
FIXTURES = "tests/live/fixtures/probes"


class UnknownLiveRule(KeyError):
    """A rule id that names no live rule."""

    def __str__(self) -> str:
        return f"{self.args[0]!r} is not a live rule; known: {', '.join(r.id for r in live_rules())}"


@dataclass(frozen=True)
class LiveRule:
    """One rule proven by probing the deployed app; ``module`` is its probe module in ``checks/live/probes/``."""

    id: str
    title: str
    severity: str
    concerns: tuple[str, ...]
    rationale: str
    remediation: str
    probe: str
    kinds: tuple[str, ...]
    applies_to: tuple[str, ...]
    module: str
    seeds: tuple[str, ...] = ()
    source_path: str | None = None  # when the rule is not proven by checks/live/probes/<module>.py
    fixture_path: str | None = None  # when its example is not tests/live/fixtures/probes/<module>.yaml

    def __post_init__(self) -> None:
        problems = metadata_problems(self.id, self.severity, self.concerns)
        for key in ("title", "rationale", "remediation", "probe", "module"):
            if not getattr(self, key).strip():
                problems.append(f"{key} must not be empty")
        if not self.kinds or not self.applies_to:
            problems.append("a live rule names its probe kinds and the types it applies to")
        if problems:
            raise ValueError(f"live rule {self.id}: " + "; ".join(problems))

    @property
    def category(self) -> str:
        return CATEGORY_OF_CONCERN[self.concerns[0]]

    @property
    def source(self) -> str:
        return self.source_path or f"{PROBES_SOURCE}/{self.module}.py"

    @property
    def fixture(self) -> str:
        """The fixture template the live tests deploy to make this rule's probe pass and fail."""
        return self.fixture_path or f"{FIXTURES}/{self.module}.yaml"


LIVE_RULES: tuple[LiveRule, ...] = (
    LiveRule(
        id="SG-LIVE-001",
        title="Poison messages reach the dead-letter queue",
        severity="high",
        concerns=("dlq",),
        kinds=("dlq",),
        applies_to=("AWS::SQS::Queue",),
        module="dlq",
        rationale=(
            "A redrive policy in the template is a promise: after maxReceiveCount failed receives the message "
            "moves to the dead-letter queue where an alarm and a person can see it. A wrong target, a policy that "
            "never reached the deployed queue or a consumer queue with no policy at all breaks that promise "
            "silently: the message is retried until its retention period ends, then lost."
        ),
        remediation=(
            "Give every consumed queue a redrive policy to a real dead-letter queue (`dead_letter_queue="
            "sqs.DeadLetterQueue(queue=dlq, max_receive_count=3)`), keep maxReceiveCount small, and make sure the "
            "deployed queue's `RedrivePolicy` names that queue."
        ),
        probe=(
            "For every queue with a redrive policy, and every queue an event source mapping consumes: pause the "
            "queue's event source mappings (restored afterwards), send a uniquely marked message, receive it and "
            "release it at once (visibility 0) until it disappears, and look for it in the dead-letter queue. "
            "Passes when it arrives there after exactly maxReceiveCount receives; a queue without a redrive "
            "policy fails with the number of receives it survived."
        ),
        seeds=("002 #4 Missing SQS Dead Letter Queue Configuration",
               "003 #1 Missing Dead Letter Queue (DLQ) Configuration"),
    ),
    LiveRule(
        id="SG-LIVE-002",
        title="Alarms in ALARM notify their SNS topic's subscribers",
        severity="high",
        concerns=("alarm-actions",),
        kinds=("alarm",),
        applies_to=("AWS::CloudWatch::Alarm",),
        module="alarms",
        rationale=(
            "An alarm whose action points at a topic nobody receives from, or at a topic that does not exist, "
            "changes state without anyone hearing it: the outage is noticed by customers first."
        ),
        remediation=(
            "Point the alarm's `AlarmActions` at the stack's notification topic (`alarm.add_alarm_action("
            "cw_actions.SnsAction(topic))`) and make sure the topic exists and has subscribers."
        ),
        probe=(
            "For every alarm whose actions name an SNS topic: subscribe a temporary SQS queue to each topic, set "
            "the alarm to ALARM with `SetAlarmState`, and wait for the notification naming the alarm; then restore "
            "the alarm's state and remove the subscription and the queue."
        ),
        seeds=("001 #3 Alarm Action Integration",),
    ),
    LiveRule(
        id="SG-LIVE-003",
        title="Stack outputs resolve to live resources",
        severity="medium",
        concerns=("outputs",),
        kinds=("output",),
        applies_to=("Outputs",),
        module="outputs",
        rationale=(
            "Integration tests, other stacks and people read a stack's outputs to find its queues, tables and APIs. "
            "An output that points at nothing, or at something else than the template says, sends them to the "
            "wrong place."
        ),
        remediation=(
            "Output the identifier the consumer needs (`queue.queue_url`, `table.table_name`, `api.url`, "
            "`topic.topic_arn`) of the resource itself, not a hand-built string."
        ),
        probe=(
            "For every output of a deployed stack that refers to a resource: the value must answer as that kind of "
            "resource (a queue URL answers `GetQueueAttributes`, a table name `DescribeTable`, an API URL an HTTP "
            "request routed by API Gateway, a topic ARN `GetTopicAttributes`, an ARN its service's describe call). "
            "A value that is not recognisable fails; literal outputs (no resource) are not probed."
        ),
        seeds=("002 #10 Missing CloudFormation Outputs", "003 #10 Incomplete Stack Outputs"),
    ),
    LiveRule(
        id="SG-LIVE-004",
        title="Deployed functions trace as the template says",
        severity="medium",
        concerns=("tracing",),
        kinds=("tracing",),
        applies_to=("AWS::Lambda::Function",),
        module="functions",
        rationale="Tracing set in the template but not on the deployed function leaves gaps in every trace.",
        remediation="Set `tracing=lambda_.Tracing.ACTIVE` on the function and redeploy; do not change it by hand.",
        probe="`GetFunctionConfiguration`'s `TracingConfig.Mode` equals the template's `TracingConfig.Mode`.",
        seeds=("003 #5 No X-Ray Tracing Enabled",),
    ),
    LiveRule(
        id="SG-LIVE-005",
        title="Deployed functions reserve the template's concurrency",
        severity="medium",
        concerns=("compute-config",),
        kinds=("reserved-concurrency",),
        applies_to=("AWS::Lambda::Function",),
        module="functions",
        rationale=(
            "Reserved concurrency both guarantees a consumer capacity and caps what it can do to a downstream "
            "database; a deployed function without it can starve others or be starved."
        ),
        remediation="Set `reserved_concurrent_executions=` on the function and redeploy; do not change it by hand.",
        probe=(
            "`GetFunctionConcurrency` equals the template's `ReservedConcurrentExecutions` (reported as not "
            "emulated when the emulator dropped the setting)."
        ),
        seeds=("003 #7 No Reserved Concurrency for Order Processor",),
    ),
    LiveRule(
        id="SG-LIVE-006",
        title="Deployed log groups keep the template's retention",
        severity="medium",
        concerns=("log-retention",),
        kinds=("log-retention",),
        applies_to=("AWS::Logs::LogGroup",),
        module="log_groups",
        rationale="A log group whose retention differs from the template's either costs money forever or loses logs.",
        remediation="Set `retention=` on the `logs.LogGroup` and redeploy; do not change it by hand.",
        probe=(
            "`DescribeLogGroups` shows the template's `RetentionInDays` on the deployed log group (reported as not "
            "emulated when the emulator dropped the setting)."
        ),
        seeds=("003 #8 Missing CloudWatch Log Retention",),
    ),
    LiveRule(
        id="SG-LIVE-007",
        title="Deployed tables have the template's point-in-time recovery",
        severity="high",
        concerns=("backup",),
        kinds=("pitr",),
        applies_to=("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable"),
        module="tables",
        rationale="Point-in-time recovery that is off on the deployed table cannot restore the data it was meant to.",
        remediation=(
            "Set `point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification("
            "point_in_time_recovery_enabled=True)` and redeploy."
        ),
        probe="`DescribeContinuousBackups` reports the point-in-time recovery status the template asks for.",
        seeds=("003 #11 Missing Point-in-Time Recovery for DynamoDB",),
    ),
    LiveRule(
        id="SG-LIVE-008",
        title="Deployed tables stream as the template says",
        severity="medium",
        concerns=("event-source",),
        kinds=("stream",),
        applies_to=("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable"),
        module="tables",
        rationale=(
            "Consumers of a table's stream (replication, projections, notifications) get nothing when the deployed "
            "table does not stream, or get the wrong images when the view type differs."
        ),
        remediation="Set `stream=dynamodb.StreamViewType.<TYPE>` on the table and redeploy.",
        probe=(
            "`DescribeTable` shows the stream enabled with the template's `StreamViewType`, and the table's latest "
            "stream answers `DescribeStream`."
        ),
    ),
    LiveRule(
        id="SG-LIVE-009",
        title="Deployed event source mappings batch as the template says",
        severity="medium",
        concerns=("event-source",),
        kinds=("esm-batching",),
        applies_to=("AWS::Lambda::EventSourceMapping",),
        module="event_sources",
        rationale=(
            "Batch size and batching window decide the consumer's throughput, cost and latency; a deployed mapping "
            "that differs from the template behaves differently from what was reviewed and load-tested."
        ),
        remediation="Set `batch_size=` and `max_batching_window=` on the event source and redeploy.",
        probe=(
            "`GetEventSourceMapping` shows the template's `BatchSize`, `MaximumBatchingWindowInSeconds` and "
            "`ParallelizationFactor` (those the template sets)."
        ),
        seeds=("003 #9 Missing SQS Batch Processing Configuration",),
    ),
    LiveRule(
        id="SG-LIVE-010",
        title="Deployed event source mappings keep the template's failure handling",
        severity="high",
        concerns=("event-source", "retries"),
        kinds=("esm-failure-handling",),
        applies_to=("AWS::Lambda::EventSourceMapping",),
        module="event_sources",
        rationale=(
            "Without partial-failure reporting one bad message makes Lambda retry the whole batch; without the "
            "stream retry limits, bisection and on-failure destination a poison record blocks its shard. The "
            "deployed mapping must keep what the template sets."
        ),
        remediation=(
            "Set `report_batch_item_failures=True` (and for streams `retry_attempts=`, `bisect_batch_on_error=True`, "
            "`on_failure=`) on the event source and redeploy."
        ),
        probe=(
            "`GetEventSourceMapping` shows the template's `FunctionResponseTypes` (ReportBatchItemFailures), "
            "`MaximumRetryAttempts`, `BisectBatchOnFunctionError`, `MaximumRecordAgeInSeconds` and on-failure "
            "destination (those the template sets)."
        ),
        seeds=("003 #9 Missing SQS Batch Processing Configuration",),
    ),
    LiveRule(
        id="SG-LIVE-011",
        title="Every resource of the app deploys",
        # High, not critical: critical is kept for exploitable security holes; a resource that cannot be created
        # is an outage of what depends on it, and high fails the gate by default all the same.
        severity="high",
        concerns=("deployment",),
        kinds=("deploy",),
        applies_to=("Resources",),
        module="deploy",
        source_path="checks/live/run.py",
        fixture_path="tests/live/fixtures/apps/failing_nested/Inner.nested.template.json",
        rationale=(
            "A template that synthesizes is not an app that deploys. A resource CloudFormation cannot create "
            "(a function whose code is not where the template says, a permission naming a function of another "
            "nested stack that is created later or in parallel, a reference to something that does not exist yet) "
            "fails the stack: on a first deploy nothing of it exists, on an update the change rolls back. Nothing "
            "else the app promises can be checked on a stack that did not deploy, so the other probes do not run."
        ),
        remediation=(
            "Read the reason on each failing resource. Refer to other resources by reference (`function."
            "function_arn`, `grant_invoke`, `add_permission` on the function object) rather than by a fixed name, "
            "so CloudFormation orders the creation; where stacks or nested stacks depend on each other without a "
            "reference, declare it (`stack.add_dependency(other)`, `node.add_dependency`). Deploy again; the "
            "other live probes run once everything deploys."
        ),
        probe=(
            "The deployment itself: every stack of the assembly (nested stacks included) is created on LocalStack "
            "and every resource of its templates must be created. Each resource the stack events report failed "
            "(or that LocalStack reported complete without creating) is a failed `deploy` probe on that "
            "resource, in its own (nested) stack, with CloudFormation's reason; the app is then not probed further. "
            "A deploy that cannot be judged (a timeout, LocalStack refusing or dying) is an engine error instead."
        ),
        seeds=("004 #5 Missing Stack Dependency Management",),
    ),
)


@lru_cache(maxsize=1)
def live_rules() -> tuple[LiveRule, ...]:
    """Every live rule, sorted by id; shared ids, titles or probe kinds are an error."""
    for attribute, named in (("id", "an id"), ("title", "a title")):
        values = [getattr(r, attribute) for r in LIVE_RULES]
        duplicates = sorted({v for v in values if values.count(v) > 1})
        if duplicates:
            raise ValueError(f"live rules share {named}: {duplicates}")
    kinds = [kind for rule in LIVE_RULES for kind in rule.kinds]
    if len(kinds) != len(set(kinds)):
        raise ValueError(f"live rules share a probe kind: {sorted({k for k in kinds if kinds.count(k) > 1})}")
    return tuple(sorted(LIVE_RULES, key=lambda r: r.id))


def live_rule(rule_id: str) -> LiveRule:
    """The live rule with this id; ``UnknownLiveRule`` (a KeyError) when there is none."""
    for rule in live_rules():
        if rule.id == rule_id:
            return rule
    raise UnknownLiveRule(rule_id)


def rule_for_kind(kind: str) -> LiveRule:
    """The live rule a probe kind proves."""
    for rule in live_rules():
        if kind in rule.kinds:
            return rule
    raise UnknownLiveRule(kind)
