"""The ideal variant's monitoring layer: the alarm topic and the seed's 24 alarms."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from reference_stacks.common import alarm_notification_key, encrypted_topic, named, notified_alarm

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
    key = alarm_notification_key(
        scope,
        "AlarmTopicKey",
        alias=named("alias/webhook-alarms", environment_suffix),
        description="Encrypts the webhook pipeline alarm topic",
    )
    return encrypted_topic(
        scope,
        "AlarmTopic",
        topic_name=named("webhook-alarms", environment_suffix),
        display_name="Webhook pipeline alarms",
        key=key,
        email=email,
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )


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


def _alarm(
    scope: Construct,
    topic: sns.ITopic,
    environment_suffix: str,
    construct_id: str,
    name: str,
    description: str,
    metric: cloudwatch.IMetric,
    threshold: float,
    *,
    sustained: bool = False,
) -> cloudwatch.Alarm:
    """Alarm ``webhook-<name>-<suffix>``; a ``sustained`` one fires on 2 of 3 periods, not on one spike."""
    return notified_alarm(
        scope,
        construct_id,
        metric=metric,
        threshold=threshold,
        evaluation_periods=3 if sustained else 1,
        datapoints_to_alarm=2 if sustained else None,
        alarm_name=named(f"webhook-{name}", environment_suffix),
        description=description,
        topic=topic,
    )


def function_alarms(
    scope: Construct, item: MonitoredFunction, *, topic: sns.ITopic, environment_suffix: str
) -> list[cloudwatch.Alarm]:
    """Error rate, throttles, duration vs timeout and concurrency for one function."""
    alarm = partial(_alarm, scope, topic, environment_suffix)
    fn, key, title = item.function, item.key, item.key.capitalize()
    duration_threshold_ms = item.timeout.to_milliseconds() * DURATION_SHARE_OF_TIMEOUT
    return [
        alarm(
            f"{title}ErrorRateAlarm",
            f"{key}-error-rate",
            f"{key}: more than {ERROR_RATE_PERCENT} % of invocations fail",
            _percent_of(
                fn.metric_errors(statistic="Sum", period=PERIOD),
                fn.metric_invocations(statistic="Sum", period=PERIOD),
                f"{key} error rate (%)",
            ),
            ERROR_RATE_PERCENT,
            sustained=True,
        ),
        alarm(
            f"{title}ThrottlesAlarm",
            f"{key}-throttles",
            f"{key}: invocations are throttled",
            fn.metric_throttles(statistic="Sum", period=PERIOD),
            0,
        ),
        alarm(
            f"{title}DurationAlarm",
            f"{key}-duration",
            f"{key}: an invocation ran longer than 80 % of the "
            f"{item.timeout.to_seconds()} s timeout ({duration_threshold_ms:.0f} ms)",
            fn.metric_duration(statistic="Maximum", period=PERIOD),
            duration_threshold_ms,
        ),
        alarm(
            f"{title}ConcurrencyAlarm",
            f"{key}-concurrency",
            f"{key}: more than {CONCURRENCY_THRESHOLD} of its 100 reserved executions in use",
            fn.metric("ConcurrentExecutions", statistic="Maximum", period=PERIOD),
            CONCURRENCY_THRESHOLD,
        ),
    ]


def queue_alarms(
    scope: Construct, item: MonitoredQueue, *, topic: sns.ITopic, environment_suffix: str
) -> list[cloudwatch.Alarm]:
    """Age of the oldest message and depth of a main queue, and any message in its DLQ."""
    alarm = partial(_alarm, scope, topic, environment_suffix)
    key, title = item.key, item.key.capitalize()
    return [
        alarm(
            f"{title}QueueAgeAlarm",
            f"{key}-queue-age",
            f"{key} queue: oldest message waits more than {QUEUE_AGE_SECONDS} s",
            item.queue.metric_approximate_age_of_oldest_message(statistic="Maximum", period=PERIOD),
            QUEUE_AGE_SECONDS,
        ),
        alarm(
            f"{title}QueueDepthAlarm",
            f"{key}-queue-depth",
            f"{key} queue: more than {QUEUE_DEPTH_MESSAGES} messages waiting",
            item.queue.metric_approximate_number_of_messages_visible(statistic="Maximum", period=PERIOD),
            QUEUE_DEPTH_MESSAGES,
        ),
        alarm(
            f"{title}DlqAlarm",
            f"{key}-dlq-messages",
            f"{key} DLQ: a message failed processing and was dead-lettered",
            item.dlq.metric_approximate_number_of_messages_visible(statistic="Maximum", period=PERIOD),
            0,
        ),
    ]


def api_alarms(
    scope: Construct, stage: apigateway.Stage, *, topic: sns.ITopic, environment_suffix: str
) -> list[cloudwatch.Alarm]:
    """4xx and 5xx rates over all requests, and p99 latency, of the API stage."""
    alarm = partial(_alarm, scope, topic, environment_suffix)
    count = stage.metric_count(statistic="Sum", period=PERIOD)
    rate_alarms = [
        alarm(
            f"Api{kind}RateAlarm",
            f"api-{kind}-rate",
            f"API: more than {percent} % of requests answered {kind}",
            _percent_of(errors(statistic="Sum", period=PERIOD), count, f"API {kind} rate (%)"),
            percent,
            sustained=True,
        )
        for kind, errors, percent in (
            ("4xx", stage.metric_client_error, API_4XX_PERCENT),
            ("5xx", stage.metric_server_error, API_5XX_PERCENT),
        )
    ]
    return [
        *rate_alarms,
        alarm(
            "ApiLatencyAlarm",
            "api-p99-latency",
            f"API: p99 latency above {API_P99_LATENCY_MS} ms",
            stage.metric_latency(statistic="p99", period=PERIOD),
            API_P99_LATENCY_MS,
            sustained=True,
        ),
    ]
