"""Building blocks shared by the five reference systems.

Every system builds an ``ideal`` and a ``baseline`` variant. The helpers here
keep the facts both variants share in one place: how a resource is named with
the environment suffix, how an output is exported, how a Python function is
packaged from its handler folder, and how an alarm reaches its topic.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Mapping

import aws_cdk as cdk
import jsii
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from reference_stacks.catalog import Variant

__all__ = [
    "Variant",
    "add_output",
    "context_flag",
    "handler_code",
    "kebab",
    "named",
    "notified_alarm",
    "python_function",
]

PYTHON_RUNTIME = lambda_.Runtime.PYTHON_3_12
LAMBDA_SHARED_DIR = Path(__file__).resolve().parent / "lambda_shared"
_BUNDLE_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "README.md")


def named(base: str, environment_suffix: str) -> str:
    """The physical name of a resource: ``<base>-<suffix>``."""
    return f"{base}-{environment_suffix}"


def kebab(identifier: str) -> str:
    """``PaymentQueueUrl`` -> ``payment-queue-url``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", identifier).lower()


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
        log_group = logs.LogGroup(
            scope,
            f"{construct_id}LogGroup",
            log_group_name=f"/aws/lambda/{function_name}" if function_name else None,
            retention=log_retention,
            removal_policy=cdk.RemovalPolicy.DESTROY,
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
