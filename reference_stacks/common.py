"""Building blocks shared by the five reference systems.

Every system builds an ``ideal`` and a ``baseline`` variant. The helpers here
keep the facts both variants share in one place: how a resource is named with
the environment suffix, how an output is exported, how a Python function is
packaged from its handler folder, how an alarm reaches its encrypted topic, the
production settings of dead-letter queues, log groups and access logs, and how
a regional WAF web ACL guards an API stage.

They also hold the ideal variants' acknowledgements: the findings of cdk-nag and
checkov that do not apply to a construct, accepted on it with a specific reason
(``acknowledge`` and the ``acknowledge_*`` helpers). Baselines get none.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import aws_cdk as cdk
import jsii
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from reference_stacks.catalog import Variant

__all__ = [
    "ReferenceStack",
    "Variant",
    "acknowledge",
    "acknowledge_async_failures",
    "acknowledge_dead_letter_queue",
    "acknowledge_iam_wildcard",
    "acknowledge_index_grant",
    "acknowledge_key_grant",
    "acknowledge_public_method",
    "acknowledge_sqs_consumer",
    "acknowledge_synchronous_only",
    "alarm_email",
    "add_output",
    "add_outputs",
    "alarm_notification_key",
    "common_rule_set_rule",
    "context_flag",
    "dead_letter_queue",
    "encrypted_topic",
    "expiring_log_group",
    "handler_code",
    "json_access_log_format",
    "kebab",
    "named",
    "notified_alarm",
    "python_function",
    "rate_limit_rule",
    "regional_web_acl",
    "waf_visibility",
]

# The newest Python runtime this CDK knows (cdk-nag's AwsSolutions-L1 and Serverless-LambdaLatestVersion
# ask for it); the handlers use only the standard library and boto3.
PYTHON_RUNTIME = lambda_.Runtime.PYTHON_3_14
XRAY_WILDCARD_REASON = (
    "xray:PutTraceSegments and xray:PutTelemetryRecords, which CDK grants for active tracing, support no "
    "resource-level permissions: IAM accepts only Resource \"*\" for them"
)
SSE_SQS_REASON = (
    "encrypted at rest with SQS-managed keys (SqsManagedSseEnabled); CKV_AWS_27 only looks for a KMS key, and "
    "a customer-managed key would add KMS grants for every producer without protecting more"
)
LAMBDA_SHARED_DIR = Path(__file__).resolve().parent / "lambda_shared"
_BUNDLE_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "README.md")


def named(base: str, environment_suffix: str) -> str:
    """The physical name of a resource: ``<base>-<suffix>``."""
    return f"{base}-{environment_suffix}"


def kebab(identifier: str) -> str:
    """``PaymentQueueUrl`` -> ``payment-queue-url``; acronyms are words: ``PaymentDLQUrl`` -> ``payment-dlq-url``."""
    # Break before an upper-case letter that follows a lower-case letter or digit, and before
    # the last capital of an acronym when a lower-case letter follows it (DLQ|Url).
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", identifier).lower()


def add_output(
    scope: Construct,
    output_id: str,
    *,
    value: str,
    description: str,
    export_prefix: str,
    environment_suffix: str,
) -> cdk.CfnOutput:
    """A stack output with a description and an export name carrying the suffix."""
    return cdk.CfnOutput(
        scope,
        output_id,
        value=value,
        description=description,
        export_name=f"{export_prefix}-{kebab(output_id)}-{environment_suffix}",
    )


def add_outputs(
    scope: Construct,
    outputs: Iterable[tuple[str, str, str]],
    *,
    export_prefix: str,
    environment_suffix: str,
) -> None:
    """:func:`add_output` for each ``(output_id, value, description)``."""
    for output_id, value, description in outputs:
        add_output(
            scope,
            output_id,
            value=value,
            description=description,
            export_prefix=export_prefix,
            environment_suffix=environment_suffix,
        )


def dead_letter_queue(
    scope: Construct, construct_id: str, *, queue_name: str, dead_letter_of: str | None = None
) -> sqs.Queue:
    """A dead-letter queue: 14 days' retention (the maximum), SQS-managed encryption, TLS-only.

    ``dead_letter_of`` names what fails into it; the queue then acknowledges the rules that ask
    every queue for a DLQ of its own (cdk-nag AwsSolutions-SQS3, Serverless-SQSRedrivePolicy).
    """
    queue = sqs.Queue(
        scope,
        construct_id,
        queue_name=queue_name,
        retention_period=cdk.Duration.days(14),
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )
    if dead_letter_of:
        acknowledge_dead_letter_queue(queue, dead_letter_of)
    return queue


def expiring_log_group(
    scope: Construct, construct_id: str, *, log_group_name: str | None, retention: logs.RetentionDays
) -> logs.LogGroup:
    """A log group whose events expire after ``retention``, deleted with the stack."""
    return logs.LogGroup(
        scope,
        construct_id,
        log_group_name=log_group_name,
        retention=retention,
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )


@jsii.implements(cdk.ILocalBundling)
class _CopyHandlers:
    """Local bundling: copy the handler folder and the shared modules; never Docker."""

    def __init__(self, handler_dir: Path) -> None:
        self._sources = (handler_dir, LAMBDA_SHARED_DIR)

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_options: object) -> bool:
        for source in self._sources:
            shutil.copytree(source, output_dir, dirs_exist_ok=True, ignore=_BUNDLE_IGNORE)
        return True


def handler_code(handler_dir: Path) -> lambda_.Code:
    """One file asset: a system's plain Python handlers plus ``lambda_shared/`` (no Docker).

    Create it once per system and pass it to every function of that system, so
    the assembly holds one asset and each function picks its module by ``handler``.
    """
    return lambda_.Code.from_asset(
        str(handler_dir),
        bundling=cdk.BundlingOptions(
            # Required by the API but never pulled: local bundling always succeeds.
            image=cdk.DockerImage.from_registry("local-bundling-only"),
            local=_CopyHandlers(handler_dir),
        ),
    )


def python_function(
    scope: Construct,
    construct_id: str,
    *,
    code: lambda_.Code,
    handler: str,
    function_name: str | None = None,
    timeout: cdk.Duration | None = None,
    memory_size: int | None = None,
    environment: Mapping[str, str] | None = None,
    tracing: bool = False,
    log_retention: logs.RetentionDays | None = None,
    role: iam.IRole | None = None,
    reserved_concurrent_executions: int | None = None,
    architecture: lambda_.Architecture | None = None,
    layers: list[lambda_.ILayerVersion] | None = None,
    description: str | None = None,
    retry_attempts: int | None = None,
) -> lambda_.Function:
    """A Python Lambda function.

    With ``log_retention`` the function gets an explicit log group named after
    the function that expires; without it Lambda creates an implicit group at
    first invocation, and that one never expires (a gap several seeds name).
    """
    log_group = None
    if log_retention is not None:
        log_group = expiring_log_group(
            scope,
            f"{construct_id}LogGroup",
            log_group_name=f"/aws/lambda/{function_name}" if function_name else None,
            retention=log_retention,
        )
    function = lambda_.Function(
        scope,
        construct_id,
        runtime=PYTHON_RUNTIME,
        code=code,
        handler=handler,
        function_name=function_name,
        timeout=timeout,
        memory_size=memory_size,
        environment=dict(environment or {}),
        tracing=lambda_.Tracing.ACTIVE if tracing else lambda_.Tracing.DISABLED,
        log_group=log_group,
        role=role,
        reserved_concurrent_executions=reserved_concurrent_executions,
        architecture=architecture,
        layers=layers,
        description=description,
        retry_attempts=retry_attempts,
    )
    if tracing:
        acknowledge_iam_wildcard(function.role, "Resource::*", XRAY_WILDCARD_REASON)
    return function


def notified_alarm(
    scope: Construct,
    construct_id: str,
    *,
    metric: cloudwatch.IMetric,
    threshold: float,
    alarm_name: str,
    description: str,
    topic: sns.ITopic | None,
    evaluation_periods: int = 1,
    datapoints_to_alarm: int | None = None,
    comparison_operator: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    treat_missing_data: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
) -> cloudwatch.Alarm:
    """A CloudWatch alarm that notifies ``topic`` when it goes to ALARM (if a topic is given)."""
    alarm = cloudwatch.Alarm(
        scope,
        construct_id,
        alarm_name=alarm_name,
        alarm_description=description,
        metric=metric,
        threshold=threshold,
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=datapoints_to_alarm,
        comparison_operator=comparison_operator,
        treat_missing_data=treat_missing_data,
    )
    if topic is not None:
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))
    return alarm


def alarm_notification_key(
    scope: Construct,
    construct_id: str,
    *,
    description: str,
    alias: str | None = None,
    pending_window: cdk.Duration | None = cdk.Duration.days(7),
    same_account_only: bool = False,
) -> kms.Key:
    """A rotating, destroyable KMS key for SNS topics that CloudWatch alarms publish to.

    A customer-managed key, not ``alias/aws/sns``: CloudWatch publishes alarm notifications
    itself and cannot be granted the AWS-managed key. ``same_account_only`` limits CloudWatch's
    grant to alarms of this account (``aws:SourceAccount``).
    """
    key = kms.Key(
        scope,
        construct_id,
        alias=alias,
        description=description,
        enable_key_rotation=True,
        pending_window=pending_window,
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],
            conditions=(
                {"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}} if same_account_only else None
            ),
        )
    )
    return key


def encrypted_topic(
    scope: Construct,
    construct_id: str,
    *,
    topic_name: str,
    display_name: str,
    key: kms.IKey | None,
    email: str | None = None,
    removal_policy: cdk.RemovalPolicy | None = None,
) -> sns.Topic:
    """An SNS topic encrypted with ``key`` and TLS-only; ``email`` (if any) is subscribed.

    Several topics may share one key. ``key=None`` builds the baselines' first-version
    topic: neither KMS-encrypted nor TLS-only.
    """
    topic = sns.Topic(
        scope,
        construct_id,
        topic_name=topic_name,
        display_name=display_name,
        master_key=key,
        enforce_ssl=True if key is not None else None,
    )
    if removal_policy is not None:
        topic.apply_removal_policy(removal_policy)
    if email:
        topic.add_subscription(subscriptions.EmailSubscription(str(email)))
    return topic


def json_access_log_format(*, identity: bool = True) -> apigateway.AccessLogFormat:
    """API Gateway access logs as JSON with every standard field; ``identity=False`` omits caller and user."""
    return apigateway.AccessLogFormat.json_with_standard_fields(
        caller=identity,
        http_method=True,
        ip=True,
        protocol=True,
        request_time=True,
        resource_path=True,
        response_length=True,
        status=True,
        user=identity,
    )


def waf_visibility(metric_name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    """CloudWatch metrics and sampled requests for a web ACL or one of its rules."""
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
    )


def common_rule_set_rule(
    *, priority: int, metric_name: str, count_rules: Sequence[str] = ()
) -> wafv2.CfnWebACL.RuleProperty:
    """AWS's managed common rule set; the rules named in ``count_rules`` only count, never block."""
    overrides = [
        wafv2.CfnWebACL.RuleActionOverrideProperty(
            name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
        )
        for rule in count_rules
    ]
    return wafv2.CfnWebACL.RuleProperty(
        name="AWSManagedRulesCommonRuleSet",
        priority=priority,
        override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
        statement=wafv2.CfnWebACL.StatementProperty(
            managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                vendor_name="AWS",
                name="AWSManagedRulesCommonRuleSet",
                rule_action_overrides=overrides or None,
            )
        ),
        visibility_config=waf_visibility(metric_name),
    )


def rate_limit_rule(
    *,
    priority: int,
    metric_name: str,
    limit: int = 2000,
    name: str = "RateLimitPerIp",
    evaluation_window_sec: int | None = None,
) -> wafv2.CfnWebACL.RuleProperty:
    """Block an IP address that sends more than ``limit`` requests in the evaluation window."""
    return wafv2.CfnWebACL.RuleProperty(
        name=name,
        priority=priority,
        action=wafv2.CfnWebACL.RuleActionProperty(block={}),
        statement=wafv2.CfnWebACL.StatementProperty(
            rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                limit=limit, aggregate_key_type="IP", evaluation_window_sec=evaluation_window_sec
            )
        ),
        visibility_config=waf_visibility(metric_name),
    )


def regional_web_acl(
    scope: Construct,
    construct_id: str,
    *,
    name: str,
    stage: apigateway.Stage,
    rules: Sequence[wafv2.CfnWebACL.RuleProperty],
    metric_name: str | None = None,
    association_id: str | None = None,
) -> wafv2.CfnWebACL:
    """A regional web ACL (allow unless a rule blocks) associated with a REST API stage.

    ``metric_name`` defaults to ``name``; the association's id to ``<construct_id>Association``.
    """
    web_acl = wafv2.CfnWebACL(
        scope,
        construct_id,
        name=name,
        scope="REGIONAL",
        default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
        visibility_config=waf_visibility(metric_name or name),
        rules=list(rules),
    )
    wafv2.CfnWebACLAssociation(
        scope,
        association_id or f"{construct_id}Association",
        resource_arn=stage.stage_arn,
        web_acl_arn=web_acl.attr_arn,
    )
    return web_acl


def context_flag(scope: Construct, key: str, default: bool) -> bool:
    """A boolean CDK context value; accepts ``true/false/1/0/yes/no`` strings from ``-c``."""
    value = scope.node.try_get_context(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "1", "yes", "on"}:
        return True
    if text in {"false", "0", "no", "off"}:
        return False
    raise ValueError(f"context {key!r} must be true or false, got {value!r}")


def alarm_email(scope: Construct) -> str | None:
    """Context ``alarm_email``: the address to subscribe to the alarm topic, if any."""
    value = scope.node.try_get_context("alarm_email")
    if value is not None and "@" not in str(value):
        raise ValueError(f"context 'alarm_email' must be an email address, got {value!r}")
    return None if value is None else str(value)


# --- acknowledgements: findings a reference system accepts, each with its reason -----------------------


def _in_baseline(scope: Construct) -> bool:
    """Whether ``scope`` belongs to a baseline variant (its nearest ancestor with a ``variant``)."""
    for ancestor in reversed(scope.node.scopes):
        variant = getattr(ancestor, "variant", None)
        if variant is not None:
            return Variant(variant) is Variant.BASELINE
    return False


def acknowledge(
    construct: Construct, reason: str, *, nag: Sequence[str] = (), checkov: Sequence[str] = ()
) -> None:
    """Accept findings on ``construct`` (and, for cdk-nag, its children) with ``reason``.

    ``nag``: cdk-nag 3 rule ids (``AwsSolutions-IAM5[Resource::*]`` for one granular finding), acknowledged
    as ``<pack>::<rule>``, the form both ``cdk synth`` and stackgrade report with the reason. ``checkov``:
    check ids, written as checkov skips (``Metadata.checkov.skip``) on the construct's CloudFormation
    resource. In a baseline variant nothing is acknowledged: the baselines are graded as their seeds'
    first implementations, with every finding counted.
    """
    if not reason.strip():
        raise ValueError(f"acknowledging {[*nag, *checkov]} on {construct.node.path} needs a reason")
    if _in_baseline(construct):
        return
    for rule in nag:
        pack = rule.split("-", 1)[0]
        cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=f"{pack}::{rule}", reason=reason))
    if checkov:
        resource = construct if isinstance(construct, cdk.CfnResource) else construct.node.default_child
        # add_metadata replaces a key: keep the skips written before.
        skips = list((resource.get_metadata("checkov") or {}).get("skip", []))
        skips += [{"id": check, "comment": reason} for check in checkov]
        resource.add_metadata("checkov", {"skip": skips})


def acknowledge_dead_letter_queue(queue: sqs.Queue, dead_letter_of: str) -> None:
    """Accept no DLQ on a queue that is itself a dead-letter queue (AwsSolutions-SQS3, Serverless-SQSRedrivePolicy)."""
    acknowledge(
        queue,
        f"this queue is the dead-letter queue of {dead_letter_of}: the end of the redrive chain, where failed "
        "messages are kept for inspection and redrive; a DLQ behind it would only move them again",
        nag=("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"),
    )


def acknowledge_iam_wildcard(principal: iam.IRole | Construct, finding: str, reason: str) -> None:
    """Accept one wildcard (``Resource::*``, ``Action::kms:GenerateDataKey*``) in a role's policies.

    Acknowledged on the role's default policy when it has one (so the role's other policies keep
    being checked), else on ``principal`` itself.
    """
    policy = principal.node.try_find_child("DefaultPolicy")
    acknowledge(policy or principal, reason, nag=(f"AwsSolutions-IAM5[{finding}]",))


def acknowledge_index_grant(principal: iam.IRole | Construct, table: Construct, actions: str) -> None:
    """Accept the ``<table ARN>/index/*`` resource of a grant on ``table`` (it matches only that table's indexes)."""
    resource = table.node.default_child
    logical_id = cdk.Stack.of(resource).get_logical_id(resource)
    acknowledge_iam_wildcard(
        principal,
        f"Resource::<{logical_id}.Arn>/index/*",
        f"index/* names only the indexes of this one table ({table.node.id}); {actions}",
    )


def acknowledge_key_grant(principal: iam.IRole | Construct, use: str) -> None:
    """Accept ``kms:GenerateDataKey*`` in a grant on one named KMS key."""
    acknowledge_iam_wildcard(
        principal,
        "Action::kms:GenerateDataKey*",
        f"kms:GenerateDataKey* (GenerateDataKey and its variants) is CDK's grant on one customer-managed key, "
        f"whose ARN is the statement's only resource, to {use}",
    )


def acknowledge_public_method(method: apigateway.Method, reason: str) -> None:
    """Accept an API method without an authorizer (cdk-nag APIG4 and COG4, checkov CKV_AWS_59)."""
    acknowledge(method, reason, nag=("AwsSolutions-APIG4", "AwsSolutions-COG4"), checkov=("CKV_AWS_59",))


def acknowledge_synchronous_only(function: lambda_.Function, callers: str) -> None:
    """Accept no DLQ / async failure destination on a function that is only invoked synchronously."""
    acknowledge(
        function,
        f"invoked only synchronously ({callers}): a function DLQ or on-failure destination receives failed "
        "asynchronous invocations only, so it would stay empty; failures go back to the caller",
        nag=("Serverless-LambdaDLQ", "Serverless-LambdaAsyncFailureDestination"),
        checkov=("CKV_AWS_116",),
    )


def acknowledge_async_failures(function: lambda_.Function, destination: str) -> None:
    """Accept no function DLQ where failed asynchronous invocations go to an on-failure destination."""
    acknowledge(
        function,
        f"failed asynchronous invocations go to the on-failure destination {destination} after their retries "
        "(EventInvokeConfig), the successor of a function DLQ that also records the error",
        nag=("Serverless-LambdaDLQ",),
        checkov=("CKV_AWS_116",),
    )


def acknowledge_sqs_consumer(function: lambda_.Function, queues: str) -> None:
    """Accept SQS event source mappings without an on-failure destination (SQS mappings take none)."""
    acknowledge(
        function,
        f"its event source mappings read SQS ({queues}), and SQS mappings take no on-failure destination "
        "(DestinationConfig is for stream and Kafka sources): a message that keeps failing moves to its queue's "
        "dead-letter queue after maxReceiveCount receives",
        nag=("Serverless-LambdaEventSourceMappingDestination",),
    )


@jsii.implements(cdk.IAspect)
class _SseSqsQueues:
    """Skip checkov's CKV_AWS_27 on queues encrypted with SQS-managed keys, which it cannot recognize."""

    def visit(self, node: Construct) -> None:
        if isinstance(node, sqs.CfnQueue) and node.sqs_managed_sse_enabled is True and not node.kms_master_key_id:
            acknowledge(node, SSE_SQS_REASON, checkov=("CKV_AWS_27",))


class ReferenceStack(cdk.Stack):
    """A reference system's top-level stack in one variant, as ``reference_stacks.app`` builds it."""

    def __init__(
        self, scope: Construct, construct_id: str, *, variant: Variant, environment_suffix: str, **kwargs
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.variant = Variant(variant)
        self.environment_suffix = environment_suffix
        cdk.Aspects.of(self).add(_SseSqsQueues())

    @property
    def ideal(self) -> bool:
        return self.variant is Variant.IDEAL
