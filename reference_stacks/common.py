"""Building blocks shared by the five reference systems.

Every system builds an ``ideal`` and a ``baseline`` variant. The helpers here
keep the facts both variants share in one place: how a resource is named with
the environment suffix, how an output is exported, how a Python function is
packaged from its handler folder, how an alarm reaches its encrypted topic, the
production settings of dead-letter queues, log groups and access logs, and how
a regional WAF web ACL guards an API stage.
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

PYTHON_RUNTIME = lambda_.Runtime.PYTHON_3_12
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


def dead_letter_queue(scope: Construct, construct_id: str, *, queue_name: str) -> sqs.Queue:
    """A dead-letter queue: 14 days' retention (the maximum), SQS-managed encryption, TLS-only."""
    return sqs.Queue(
        scope,
        construct_id,
        queue_name=queue_name,
        retention_period=cdk.Duration.days(14),
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )


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
    return lambda_.Function(
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


class ReferenceStack(cdk.Stack):
    """A reference system's top-level stack in one variant, as ``reference_stacks.app`` builds it."""

    def __init__(
        self, scope: Construct, construct_id: str, *, variant: Variant, environment_suffix: str, **kwargs
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.variant = Variant(variant)
        self.environment_suffix = environment_suffix

    @property
    def ideal(self) -> bool:
        return self.variant is Variant.IDEAL
