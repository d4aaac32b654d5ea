"""The ideal variant's dashboard and alarms (seed items 7 and 8).

Seed alarms, with the seed's thresholds: API 5XX >= 10, Lambda errors >= 5 (per
function), DynamoDB throttles >= 10 (CloudWatch has no table-wide throttle metric
without an ``Operation`` dimension, so read and write throttle events get one alarm
each), payment DLQ messages > 0. Production rules add: per function throttles and
duration above 80 % of the timeout; age of the oldest message and depth of the
payment queue; messages in the two failover DLQs; API 4XX and p99 latency. Every
alarm notifies the ops alert topic (which the failover orchestrator handles).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch

from reference_stacks.common import notified_alarm

if TYPE_CHECKING:  # pragma: no cover - import only for type checkers (avoids a cycle)
    from reference_stacks.payments_dr.stack import PaymentsDrStack

PERIOD = cdk.Duration.minutes(5)
GTE = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
GT = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD

API_5XX_THRESHOLD = 10
API_4XX_THRESHOLD = 100
API_P99_LATENCY_MS = 3000
LAMBDA_ERRORS_THRESHOLD = 5
DYNAMODB_THROTTLES_THRESHOLD = 10
QUEUE_AGE_SECONDS = 600
QUEUE_DEPTH = 1000
# stack.functions key -> (construct id prefix, alarm name base)
FUNCTION_IDS = {
    "validator": ("PaymentValidator", "payment-validator"),
    "processor": ("PaymentProcessor", "payment-processor"),
    "failover": ("FailoverOrchestrator", "failover-orchestrator"),
}


def _table_metric(stack: "PaymentsDrStack", name: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace="AWS/DynamoDB",
        metric_name=name,
        dimensions_map={"TableName": stack.table.table_name},
        statistic="Sum",
        period=PERIOD,
    )


def build_dashboard(stack: "PaymentsDrStack") -> cloudwatch.Dashboard:
    """Dashboard ``payment-dr-<suffix>``: API, Lambda, DynamoDB and SQS widgets."""
    api, functions = stack.api, stack.functions
    dashboard = cloudwatch.Dashboard(stack, "PaymentDashboard", dashboard_name=stack.name("payment-dr"))
    dashboard.add_widgets(
        cloudwatch.GraphWidget(
            title="API Gateway: requests and errors",
            left=[api.metric_count(period=PERIOD), api.metric_server_error(period=PERIOD),
                  api.metric_client_error(period=PERIOD)],
            right=[api.metric_latency(period=PERIOD, statistic="p99")],
            width=12,
        ),
        cloudwatch.GraphWidget(
            title="Lambda: invocations and errors",
            left=[fn.metric_invocations(period=PERIOD) for fn in functions.values()],
            right=[fn.metric_errors(period=PERIOD) for fn in functions.values()],
            width=12,
        ),
        cloudwatch.GraphWidget(
            title="DynamoDB: consumed capacity and throttles",
            left=[_table_metric(stack, "ConsumedReadCapacityUnits"),
                  _table_metric(stack, "ConsumedWriteCapacityUnits")],
            right=[_table_metric(stack, "ReadThrottleEvents"), _table_metric(stack, "WriteThrottleEvents")],
            width=12,
        ),
        cloudwatch.GraphWidget(
            title="SQS: queue depth and DLQ messages",
            left=[stack.payment_queue.metric_approximate_number_of_messages_visible(period=PERIOD),
                  stack.payment_dlq.metric_approximate_number_of_messages_visible(period=PERIOD)],
            right=[stack.payment_queue.metric_approximate_age_of_oldest_message(period=PERIOD)],
            width=12,
        ),
    )
    return dashboard


def build_alarms(stack: "PaymentsDrStack") -> list[cloudwatch.Alarm]:
    """All alarms of the ideal variant, each notifying the ops alert topic."""
    topic = stack.ops_topic
    alarms: list[cloudwatch.Alarm] = []

    def alarm(construct_id: str, base: str, metric: cloudwatch.IMetric, threshold: float,
              comparison: cloudwatch.ComparisonOperator, description: str) -> None:
        alarms.append(
            notified_alarm(
                stack,
                construct_id,
                metric=metric,
                threshold=threshold,
                alarm_name=stack.name(base),
                description=description,
                topic=topic,
                comparison_operator=comparison,
            )
        )

    api = stack.api
    alarm("ApiServerErrorAlarm", "payment-api-5xx", api.metric_server_error(period=PERIOD, statistic="Sum"),
          API_5XX_THRESHOLD, GTE, "Payment API returned 10 or more 5XX errors in 5 minutes")
    alarm("ApiClientErrorAlarm", "payment-api-4xx", api.metric_client_error(period=PERIOD, statistic="Sum"),
          API_4XX_THRESHOLD, GTE, "Payment API returned 100 or more 4XX errors in 5 minutes")
    alarm("ApiLatencyAlarm", "payment-api-p99-latency", api.metric_latency(period=PERIOD, statistic="p99"),
          API_P99_LATENCY_MS, GT, "Payment API p99 latency above 3 s")

    for key, fn in stack.functions.items():
        prefix, base = FUNCTION_IDS[key]
        timeout_ms = fn.timeout.to_milliseconds()
        alarm(f"{prefix}ErrorAlarm", f"{base}-errors", fn.metric_errors(period=PERIOD, statistic="Sum"),
              LAMBDA_ERRORS_THRESHOLD, GTE, f"{base}: 5 or more errors in 5 minutes")
        alarm(f"{prefix}ThrottleAlarm", f"{base}-throttles", fn.metric_throttles(period=PERIOD, statistic="Sum"),
              1, GTE, f"{base}: invocations throttled")
        alarm(f"{prefix}DurationAlarm", f"{base}-duration",
              fn.metric_duration(period=PERIOD, statistic="Maximum"),
              int(timeout_ms * 0.8), GT, f"{base}: duration above 80 % of its {timeout_ms // 1000} s timeout")
        reserved = fn.node.default_child.reserved_concurrent_executions
        if reserved:
            alarm(f"{prefix}ConcurrencyAlarm", f"{base}-concurrency",
                  fn.metric("ConcurrentExecutions", period=PERIOD, statistic="Maximum"),
                  int(reserved * 0.9), GT, f"{base}: concurrency above 90 % of its {reserved} reserved")

    alarm("DynamoDBReadThrottleAlarm", "payments-table-read-throttles",
          _table_metric(stack, "ReadThrottleEvents"), DYNAMODB_THROTTLES_THRESHOLD, GTE,
          "Payments table: 10 or more throttled reads in 5 minutes")
    alarm("DynamoDBWriteThrottleAlarm", "payments-table-write-throttles",
          _table_metric(stack, "WriteThrottleEvents"), DYNAMODB_THROTTLES_THRESHOLD, GTE,
          "Payments table: 10 or more throttled writes in 5 minutes")

    queue = stack.payment_queue
    alarm("PaymentQueueAgeAlarm", "payment-queue-age",
          queue.metric_approximate_age_of_oldest_message(period=PERIOD, statistic="Maximum"),
          QUEUE_AGE_SECONDS, GT, "Payment queue: oldest message waiting more than 10 minutes")
    alarm("PaymentQueueDepthAlarm", "payment-queue-depth",
          queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
          QUEUE_DEPTH, GT, "Payment queue: more than 1000 messages waiting")

    for construct_id, base, dlq, what in (
        ("PaymentDLQAlarm", "payment-dlq-messages", stack.payment_dlq, "payments that failed 3 times"),
        ("FailoverSubscriptionDLQAlarm", "failover-subscription-dlq-messages", stack.failover_subscription_dlq,
         "alarm notifications SNS could not deliver to the failover orchestrator"),
        ("FailoverDestinationDLQAlarm", "failover-destination-dlq-messages", stack.failover_destination_dlq,
         "alarm notifications the failover orchestrator failed on"),
    ):
        alarm(construct_id, base,
              dlq.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
              0, GT, f"{base}: {what}")
    return alarms
