"""The ideal variant's monitoring layer: the alarm topic and the seed's 24 alarms."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from reference_stacks.common import named, notified_alarm

PERIOD = cdk.Duration.minutes(5)
# Seed thresholds.
ERROR_RATE_PERCENT = 5
DURATION_SHARE_OF_TIMEOUT = 0.8
CONCURRENCY_THRESHOLD = 90
QUEUE_AGE_SECONDS = 300
QUEUE_DEPTH_MESSAGES = 100
API_4XX_PERCENT = 10
API_5XX_PERCENT = 1
API_P99_LATENCY_MS = 1000


@dataclass(frozen=True)
class MonitoredFunction:
    """A function and the facts its alarms need."""

    key: str
    function: lambda_.Function
    timeout: cdk.Duration


@dataclass(frozen=True)
class MonitoredQueue:
    """A main queue and its dead-letter queue."""

    key: str
    queue: sqs.Queue
    dlq: sqs.Queue


def alarm_topic(scope: Construct, *, environment_suffix: str, email: str | None) -> sns.Topic:
    """The one SNS topic every alarm notifies, encrypted with a rotating key CloudWatch may use."""
    key = kms.Key(
        scope,
        "AlarmTopicKey",
        alias=named("alias/webhook-alarms", environment_suffix),
        description="Encrypts the webhook pipeline alarm topic",
        enable_key_rotation=True,
        removal_policy=cdk.RemovalPolicy.DESTROY,
        pending_window=cdk.Duration.days(7),
    )
    # CloudWatch publishes alarm notifications itself, so it needs the key (AWS managed keys refuse it).
    key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
    topic = sns.Topic(
        scope,
        "AlarmTopic",
        topic_name=named("webhook-alarms", environment_suffix),
        display_name="Webhook pipeline alarms",
        master_key=key,
        enforce_ssl=True,
    )
    topic.apply_removal_policy(cdk.RemovalPolicy.DESTROY)
    if email:
        topic.add_subscription(subscriptions.EmailSubscription(email))
    return topic


def _percent_of(
    numerator: cloudwatch.IMetric, denominator: cloudwatch.IMetric, label: str
) -> cloudwatch.MathExpression:
    # IF(...) keeps the rate at 0 (not missing) in periods without traffic.
    return cloudwatch.MathExpression(
        expression="IF(total > 0, 100 * part / total, 0)",
        using_metrics={"part": numerator, "total": denominator},
        period=PERIOD,
        label=label,
    )


def function_alarms(
    scope: Construct, item: MonitoredFunction, *, topic: sns.ITopic, environment_suffix: str
) -> list[cloudwatch.Alarm]:
    """Error rate, throttles, duration vs timeout and concurrency for one function."""
    fn, key = item.function, item.key
    duration_threshold_ms = item.timeout.to_milliseconds() * DURATION_SHARE_OF_TIMEOUT
    return [
        notified_alarm(
            scope,
            f"{key.capitalize()}ErrorRateAlarm",
            metric=_percent_of(
                fn.metric_errors(statistic="Sum", period=PERIOD),
                fn.metric_invocations(statistic="Sum", period=PERIOD),
                f"{key} error rate (%)",
            ),
            threshold=ERROR_RATE_PERCENT,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            alarm_name=named(f"webhook-{key}-error-rate", environment_suffix),
            description=f"{key}: more than {ERROR_RATE_PERCENT} % of invocations fail",
            topic=topic,
        ),
        notified_alarm(
            scope,
            f"{key.capitalize()}ThrottlesAlarm",
            metric=fn.metric_throttles(statistic="Sum", period=PERIOD),
            threshold=0,
            alarm_name=named(f"webhook-{key}-throttles", environment_suffix),
            description=f"{key}: invocations are throttled",
            topic=topic,
        ),
        notified_alarm(
            scope,
            f"{key.capitalize()}DurationAlarm",
            metric=fn.metric_duration(statistic="Maximum", period=PERIOD),
            threshold=duration_threshold_ms,
            alarm_name=named(f"webhook-{key}-duration", environment_suffix),
            description=(
                f"{key}: an invocation ran longer than 80 % of the "
                f"{item.timeout.to_seconds()} s timeout ({duration_threshold_ms:.0f} ms)"
            ),
            topic=topic,
        ),
        notified_alarm(
            scope,
            f"{key.capitalize()}ConcurrencyAlarm",
            metric=fn.metric("ConcurrentExecutions", statistic="Maximum", period=PERIOD),
            threshold=CONCURRENCY_THRESHOLD,
            alarm_name=named(f"webhook-{key}-concurrency", environment_suffix),
            description=f"{key}: more than {CONCURRENCY_THRESHOLD} of its 100 reserved executions in use",
            topic=topic,
        ),
    ]


def queue_alarms(
    scope: Construct, item: MonitoredQueue, *, topic: sns.ITopic, environment_suffix: str
) -> list[cloudwatch.Alarm]:
    """Age of the oldest message and depth of a main queue, and any message in its DLQ."""
    key, title = item.key, item.key.capitalize()
    return [
        notified_alarm(
            scope,
            f"{title}QueueAgeAlarm",
            metric=item.queue.metric_approximate_age_of_oldest_message(statistic="Maximum", period=PERIOD),
            threshold=QUEUE_AGE_SECONDS,
            alarm_name=named(f"webhook-{key}-queue-age", environment_suffix),
            description=f"{key} queue: oldest message waits more than {QUEUE_AGE_SECONDS} s",
            topic=topic,
        ),
        notified_alarm(
            scope,
            f"{title}QueueDepthAlarm",
            metric=item.queue.metric_approximate_number_of_messages_visible(statistic="Maximum", period=PERIOD),
            threshold=QUEUE_DEPTH_MESSAGES,
            alarm_name=named(f"webhook-{key}-queue-depth", environment_suffix),
            description=f"{key} queue: more than {QUEUE_DEPTH_MESSAGES} messages waiting",
            topic=topic,
        ),
        notified_alarm(
            scope,
            f"{title}DlqAlarm",
            metric=item.dlq.metric_approximate_number_of_messages_visible(statistic="Maximum", period=PERIOD),
            threshold=0,
            alarm_name=named(f"webhook-{key}-dlq-messages", environment_suffix),
            description=f"{key} DLQ: a message failed processing and was dead-lettered",
            topic=topic,
        ),
    ]


def api_alarms(
    scope: Construct, stage: apigateway.Stage, *, topic: sns.ITopic, environment_suffix: str
) -> list[cloudwatch.Alarm]:
    """4xx and 5xx rates over all requests, and p99 latency, of the API stage."""
    count = stage.metric_count(statistic="Sum", period=PERIOD)
    return [
        notified_alarm(
            scope,
            "Api4xxRateAlarm",
            metric=_percent_of(stage.metric_client_error(statistic="Sum", period=PERIOD), count, "API 4xx rate (%)"),
            threshold=API_4XX_PERCENT,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            alarm_name=named("webhook-api-4xx-rate", environment_suffix),
            description=f"API: more than {API_4XX_PERCENT} % of requests answered 4xx",
            topic=topic,
        ),
        notified_alarm(
            scope,
            "Api5xxRateAlarm",
            metric=_percent_of(stage.metric_server_error(statistic="Sum", period=PERIOD), count, "API 5xx rate (%)"),
            threshold=API_5XX_PERCENT,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            alarm_name=named("webhook-api-5xx-rate", environment_suffix),
            description=f"API: more than {API_5XX_PERCENT} % of requests answered 5xx",
            topic=topic,
        ),
        notified_alarm(
            scope,
            "ApiLatencyAlarm",
            metric=stage.metric_latency(statistic="p99", period=PERIOD),
            threshold=API_P99_LATENCY_MS,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            alarm_name=named("webhook-api-p99-latency", environment_suffix),
            description=f"API: p99 latency above {API_P99_LATENCY_MS} ms",
            topic=topic,
        ),
    ]
