"""The ideal variant's alarms: the seed's four plus what the production rules add.

Every alarm notifies the one alarm topic. The seed names its four alarms
(processor errors, processor throttles, DLQ messages, queue depth) but gives no
thresholds; the values below are ours and live in :data:`THRESHOLDS`.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from reference_stacks.common import named, notified_alarm

PERIOD = cdk.Duration.minutes(5)
GTE = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD

THRESHOLDS: dict[str, float] = {
    "function_errors": 5,  # errors per 5 minutes
    "function_throttles": 1,  # any throttle: reserved concurrency is exhausted
    "duration_fraction_of_timeout": 0.8,  # p99 duration vs the function timeout
    "processor_concurrency_fraction": 0.8,  # of reserved concurrency
    "queue_depth": 1000,  # visible messages, 2 of 2 periods
    "queue_age_seconds": 600,  # oldest message; visibility timeout is 300 s
    "dlq_messages": 1,  # any message in the DLQ
    "api_5xx": 5,  # per 5 minutes
    "api_4xx": 100,  # per 5 minutes; single 400s are clients' mistakes
    "api_p99_latency_ms": 3000,  # 3 of 3 periods
    "table_throttles": 1,  # read or write throttle events per 5 minutes
}


@dataclass(frozen=True)
class MonitoredFunction:
    """A function to alarm on, with the settings its alarms derive from."""

    key: str  # kebab name used in alarm names, e.g. "order-processor"
    label: str  # construct-id prefix, e.g. "OrderProcessor"
    function: lambda_.Function
    timeout: cdk.Duration
    reserved_concurrency: int | None = None


def add_alarms(
    scope: Construct,
    *,
    environment_suffix: str,
    topic: sns.ITopic,
    functions: list[MonitoredFunction],
    queue: sqs.Queue,
    dlq: sqs.Queue,
    api: apigw.RestApi,
    table: dynamodb.Table,
) -> list[cloudwatch.Alarm]:
    """Create every alarm of the ideal variant; each one notifies ``topic``."""
    alarms: list[cloudwatch.Alarm] = []

    def alarm(construct_id: str, name: str, description: str, metric: cloudwatch.IMetric,
              threshold: float, evaluation_periods: int = 1) -> None:
        alarms.append(
            notified_alarm(
                scope,
                construct_id,
                metric=metric,
                threshold=threshold,
                alarm_name=named(name, environment_suffix),
                description=description,
                topic=topic,
                evaluation_periods=evaluation_periods,
                comparison_operator=GTE,
            )
        )

    for fn in functions:
        alarm(f"{fn.label}Errors", f"{fn.key}-errors",
              f"{fn.key} raised errors in 5 minutes",
              fn.function.metric_errors(period=PERIOD, statistic="Sum"),
              THRESHOLDS["function_errors"])
        alarm(f"{fn.label}Throttles", f"{fn.key}-throttles",
              f"{fn.key} invocations were throttled",
              fn.function.metric_throttles(period=PERIOD, statistic="Sum"),
              THRESHOLDS["function_throttles"])
        alarm(f"{fn.label}Duration", f"{fn.key}-duration",
              f"{fn.key} p99 duration is above 80% of its timeout",
              fn.function.metric_duration(period=PERIOD, statistic="p99"),
              fn.timeout.to_milliseconds() * THRESHOLDS["duration_fraction_of_timeout"])
        if fn.reserved_concurrency is not None:
            alarm(f"{fn.label}ConcurrentExecutions", f"{fn.key}-concurrency",
                  f"{fn.key} is using most of its reserved concurrency",
                  fn.function.metric("ConcurrentExecutions", period=PERIOD, statistic="Maximum"),
                  fn.reserved_concurrency * THRESHOLDS["processor_concurrency_fraction"])

    alarm("QueueDepthAlarm", "order-queue-depth",
          "Orders are piling up in the order queue",
          queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
          THRESHOLDS["queue_depth"], evaluation_periods=2)
    alarm("QueueAgeAlarm", "order-queue-age",
          "The oldest order in the queue has waited too long",
          queue.metric_approximate_age_of_oldest_message(period=PERIOD, statistic="Maximum"),
          THRESHOLDS["queue_age_seconds"])
    alarm("DLQMessagesAlarm", "order-dlq-messages",
          "Orders failed processing 3 times and are in the DLQ",
          dlq.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
          THRESHOLDS["dlq_messages"])

    alarm("Api5xxAlarm", "order-api-5xx", "The order API answers with server errors",
          api.metric_server_error(period=PERIOD, statistic="Sum"), THRESHOLDS["api_5xx"])
    alarm("Api4xxAlarm", "order-api-4xx", "Many order requests are rejected",
          api.metric_client_error(period=PERIOD, statistic="Sum"), THRESHOLDS["api_4xx"])
    alarm("ApiLatencyAlarm", "order-api-latency", "The order API p99 latency is high",
          api.metric_latency(period=PERIOD, statistic="p99"),
          THRESHOLDS["api_p99_latency_ms"], evaluation_periods=3)

    for kind in ("Read", "Write"):
        alarm(f"Table{kind}ThrottleAlarm", f"orders-table-{kind.lower()}-throttles",
              f"DynamoDB throttled {kind.lower()}s on the orders table",
              table.metric(f"{kind}ThrottleEvents", period=PERIOD, statistic="Sum"),
              THRESHOLDS["table_throttles"])
    return alarms
