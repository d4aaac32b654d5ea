"""The ideal variant's alerting: one encrypted SNS topic and the alarms that notify it.

The eight alarms and their settings are the seed's iteration-1 list; the two
main-queue alarms (age of oldest message, depth) come from the project's
production rules, which ask for them on every source queue.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from reference_stacks.common import alarm_notification_key, encrypted_topic, named, notified_alarm

GTE = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
GT = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
LT = cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD

# Thresholds from the seed (80 % CPU/memory, >= 1 unhealthy target / DLQ message,
# < 1 running task) and from the production rules for the main queue.
UTILIZATION_THRESHOLD_PERCENT = 80
QUEUE_AGE_THRESHOLD_SECONDS = 300
QUEUE_DEPTH_THRESHOLD = 1000


@dataclass(frozen=True)
class MonitoredService:
    """An ECS service, the short name its alarms carry (``api``) and its display name (``API``)."""

    label: str
    display: str
    service: ecs.FargateService


def alert_topic(scope: Construct, environment_suffix: str, alarm_email: str | None) -> sns.Topic:
    """The seed's ``order-processing-alerts-<suffix>`` topic, KMS-encrypted and TLS-only."""
    name = named("order-processing-alerts", environment_suffix)
    key = alarm_notification_key(
        scope, "AlertTopicKey", alias=f"alias/{name}", description="Encrypts the order processing alert topic"
    )
    return encrypted_topic(
        scope,
        "AlertTopic",
        topic_name=name,
        display_name="Order Processing System Alerts",
        key=key,
        email=alarm_email,
    )


def add_alarms(
    scope: Construct,
    *,
    environment_suffix: str,
    topic: sns.ITopic,
    cluster: ecs.ICluster,
    services: list[MonitoredService],
    api_target_group: elbv2.ApplicationTargetGroup,
    queue: sqs.IQueue,
    dlq: sqs.IQueue,
) -> list[cloudwatch.Alarm]:
    """Every monitoring alarm of the ideal variant, each with an SnsAction to ``topic``."""
    one_minute = cdk.Duration.minutes(1)
    alarms = [
        notified_alarm(
            scope,
            "ALBUnhealthyTargetAlarm",
            alarm_name=named("alb-unhealthy-target", environment_suffix),
            description="Alert when any ALB target becomes unhealthy",
            metric=api_target_group.metrics.unhealthy_host_count(
                statistic="Average", period=one_minute
            ),
            threshold=1,
            evaluation_periods=2,
            comparison_operator=GTE,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            topic=topic,
        )
    ]
    for monitored in services:
        label, display, service = monitored.label, monitored.display, monitored.service
        pascal = label.capitalize()
        alarms += [
            notified_alarm(
                scope,
                f"{pascal}Service{resource}Alarm",
                alarm_name=named(f"{label}-service-{resource.lower()}-high", environment_suffix),
                description=f"{display} service {word} utilization above {UTILIZATION_THRESHOLD_PERCENT}%",
                metric=metric,
                threshold=UTILIZATION_THRESHOLD_PERCENT,
                evaluation_periods=2,
                comparison_operator=GT,
                topic=topic,
            )
            for resource, word, metric in (
                ("CPU", "CPU", service.metric_cpu_utilization()),
                ("Memory", "memory", service.metric_memory_utilization()),
            )
        ]
        alarms += [
            notified_alarm(
                scope,
                f"{pascal}ServiceRunningTasksAlarm",
                alarm_name=named(f"{label}-service-no-tasks", environment_suffix),
                description=f"{display} service has no running tasks",
                # RunningTaskCount is published by Container Insights, hence it is on in the ideal.
                metric=cloudwatch.Metric(
                    namespace="ECS/ContainerInsights",
                    metric_name="RunningTaskCount",
                    dimensions_map={
                        "ClusterName": cluster.cluster_name,
                        "ServiceName": service.service_name,
                    },
                    statistic="Average",
                    period=one_minute,
                ),
                threshold=1,
                evaluation_periods=2,
                comparison_operator=LT,
                # No data means no tasks report: that is the outage this alarm exists for.
                treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
                topic=topic,
            ),
        ]
    alarms += [
        notified_alarm(
            scope,
            "DLQMessagesAlarm",
            alarm_name=named("dlq-messages-detected", environment_suffix),
            description="Alert when messages land in dead letter queue",
            metric=dlq.metric_approximate_number_of_messages_visible(
                statistic="Sum", period=one_minute
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=GTE,
            topic=topic,
        ),
        notified_alarm(
            scope,
            "OrderQueueAgeAlarm",
            alarm_name=named("order-queue-age-high", environment_suffix),
            description=f"Oldest order message waited more than {QUEUE_AGE_THRESHOLD_SECONDS} s",
            metric=queue.metric_approximate_age_of_oldest_message(
                statistic="Maximum", period=one_minute
            ),
            threshold=QUEUE_AGE_THRESHOLD_SECONDS,
            evaluation_periods=3,
            comparison_operator=GT,
            topic=topic,
        ),
        notified_alarm(
            scope,
            "OrderQueueDepthAlarm",
            alarm_name=named("order-queue-depth-high", environment_suffix),
            description=f"More than {QUEUE_DEPTH_THRESHOLD} orders waiting: workers are not keeping up",
            metric=queue.metric_approximate_number_of_messages_visible(
                statistic="Maximum", period=cdk.Duration.minutes(5)
            ),
            threshold=QUEUE_DEPTH_THRESHOLD,
            evaluation_periods=2,
            comparison_operator=GT,
            topic=topic,
        ),
    ]
    return alarms
