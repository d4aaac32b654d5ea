"""MonitoringStack: the 14-widget dashboard, EMF metrics, anomaly detection, billing and resource alarms."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_sns as sns
from constructs import Construct

from reference_stacks.common import Variant, notified_alarm

from .api import ApiStack
from .base import METRICS_NAMESPACE, PatternNestedStack
from .compute import ComputeStack
from .data import DataStack
from .orchestration import OrchestrationStack

BILLING_THRESHOLD_USD = 100
SEVERITIES = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
FIVE_MINUTES = cdk.Duration.minutes(5)


def emf_metric(name: str, dimensions: dict[str, str], statistic: str = "Average", label: str | None = None):
    """A custom metric the functions publish through Embedded Metric Format."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map=dimensions,
        statistic=statistic,
        period=FIVE_MINUTES,
        label=label,
    )


class MonitoringStack(PatternNestedStack):
    """Observability over every other stack; deployed last."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        variant: Variant,
        environment_suffix: str,
        data: DataStack,
        compute: ComputeStack,
        api: ApiStack,
        orchestration: OrchestrationStack,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            variant=variant,
            environment_suffix=environment_suffix,
            description="Pattern detection monitoring: dashboard, anomaly detection, alarms",
        )
        self.alarms: list[cloudwatch.Alarm] = []
        if not self.ideal:
            # The first version's monitoring was a topic no alarm ever published to.
            sns.Topic(self, "AlarmTopic", topic_name=self.name("PatternDetectionAlarms"))
            return
        self.alarm_topic = data.alarm_topic
        self.duration_metric = emf_metric(
            "PatternDetectionDuration", {"Service": "pattern-detector"}, label="Detection duration (ms)"
        )
        self._anomaly_alarm()
        self._billing_alarm()
        self._resource_alarms(data, compute, api, orchestration)
        self.dashboard = self._dashboard(data, compute, api, orchestration)

    def _alarm(self, construct_id: str, base_name: str, description: str, metric, threshold: float, **options):
        alarm = notified_alarm(
            self,
            construct_id,
            alarm_name=self.name(base_name),
            description=description,
            metric=metric,
            threshold=threshold,
            topic=self.alarm_topic,
            **options,
        )
        self.alarms.append(alarm)
        return alarm

    def _anomaly_alarm(self) -> None:
        self.anomaly_alarm = cloudwatch.AnomalyDetectionAlarm(
            self,
            "DetectionDurationAnomaly",
            alarm_name=self.name("PatternDetectionDurationAnomaly"),
            alarm_description="PatternDetectionDuration above its anomaly band (2 standard deviations)",
            metric=self.duration_metric,
            std_devs=2,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_UPPER_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.anomaly_alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.alarm_topic))

    def _billing_alarm(self) -> None:
        # AWS/Billing metrics exist in us-east-1 only (with billing alerts enabled on the account).
        self._alarm(
            "BillingAlarm",
            "PatternDetectionBilling",
            f"Estimated charges above {BILLING_THRESHOLD_USD} USD",
            cloudwatch.Metric(
                namespace="AWS/Billing",
                metric_name="EstimatedCharges",
                dimensions_map={"Currency": "USD"},
                statistic="Maximum",
                period=cdk.Duration.hours(6),
            ),
            BILLING_THRESHOLD_USD,
        )

    def _resource_alarms(
        self, data: DataStack, compute: ComputeStack, api: ApiStack, orchestration: OrchestrationStack
    ) -> None:
        for queue_id, queue, max_age, max_depth in (
            ("AlertQueue", data.alert_queue, 300, 100),
            # Reviewers have two hours; alarm well before a request could expire unseen.
            ("PendingApprovals", data.approvals_queue, 1800, 50),
        ):
            self._alarm(f"{queue_id}AgeAlarm", f"{queue_id}-age", f"{queue_id}: oldest message older than {max_age} s",
                        queue.metric_approximate_age_of_oldest_message(period=FIVE_MINUTES, statistic="Maximum"),
                        max_age)
            self._alarm(f"{queue_id}DepthAlarm", f"{queue_id}-depth", f"{queue_id}: more than {max_depth} messages",
                        queue.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES, statistic="Maximum"),
                        max_depth)
        for dlq_id, dlq in (
            ("AlertQueueDLQ", data.alert_dlq),
            ("PendingApprovalsDLQ", data.approvals_dlq),
            ("AsyncFailures", compute.failure_queue),
            ("EventTargetDLQ", orchestration.events_dlq),
        ):
            self._alarm(f"{dlq_id}Alarm", f"{dlq_id}-messages", f"{dlq_id}: messages waiting for investigation",
                        dlq.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES, statistic="Maximum"), 0)
        for table_id, table in (("TradingPatterns", data.patterns_table), ("ApprovalTracking", data.approval_table)):
            self._alarm(
                f"{table_id}ThrottleAlarm", f"{table_id}-throttles", f"{table_id}: throttled requests",
                table.metric_throttled_requests_for_operations(
                    operations=[dynamodb.Operation.GET_ITEM, dynamodb.Operation.PUT_ITEM,
                                dynamodb.Operation.UPDATE_ITEM, dynamodb.Operation.SCAN],
                    period=FIVE_MINUTES,
                ),
                0,
            )
        rest_api = api.api
        self._alarm("Api5xxAlarm", "PatternApi-5xx", "API: more than 5 server errors in 5 minutes",
                    rest_api.metric_server_error(period=FIVE_MINUTES, statistic="Sum"), 5)
        self._alarm("Api4xxAlarm", "PatternApi-4xx", "API: more than 100 client errors in 5 minutes",
                    rest_api.metric_client_error(period=FIVE_MINUTES, statistic="Sum"), 100)
        self._alarm("ApiLatencyAlarm", "PatternApi-p99-latency", "API: p99 latency above 3 s",
                    rest_api.metric_latency(period=FIVE_MINUTES, statistic="p99"), 3000)
        for workflow_id, workflow in (
            ("PatternAnalysisWorkflow", orchestration.analysis_workflow),
            ("PowerTuningWorkflow", orchestration.power_tuning_workflow),
        ):
            self._alarm(f"{workflow_id}FailedAlarm", f"{workflow_id}-failed", f"{workflow_id}: executions failed",
                        workflow.metric_failed(period=FIVE_MINUTES, statistic="Sum"), 0)
        self._alarm(
            "KinesisIteratorAgeAlarm", "KinesisConsumer-iterator-age", "Kinesis consumer more than 60 s behind",
            compute.functions["kinesis-consumer"].metric("IteratorAge", period=FIVE_MINUTES, statistic="Maximum"),
            60000,
        )

    def _dashboard(
        self, data: DataStack, compute: ComputeStack, api: ApiStack, orchestration: OrchestrationStack
    ) -> cloudwatch.Dashboard:
        functions = compute.functions
        by_severity = [emf_metric("AlertPriority", {"Severity": s}, "SampleCount", s) for s in SEVERITIES]
        confidence = [emf_metric("ConfidenceScore", {"PatternType": t}, label=t)
                      for t in ("head-and-shoulders", "double-top", "ascending-triangle")]

        def per_function(name: str, statistic: str) -> list[cloudwatch.IMetric]:
            return [fn.metric(name, period=FIVE_MINUTES, label=key, statistic=statistic)
                    for key, fn in functions.items()]

        widgets = [
            cloudwatch.TextWidget(markdown=f"# Stock pattern detection ({self.suffix})", width=24, height=1),
            cloudwatch.GraphWidget(title="Pattern detection duration (EMF)", width=12,
                                   left=[self.duration_metric,
                                         emf_metric("PatternDetectionDuration", {"Service": "pattern-detector"},
                                                    "p99", "p99")]),
            cloudwatch.GraphWidget(title="Confidence score by pattern (EMF)", width=12, left=confidence),
            cloudwatch.GraphWidget(title="Alerts by severity (EMF)", width=8, left=by_severity,
                                   view=cloudwatch.GraphWidgetView.BAR),
            cloudwatch.GraphWidget(title="Alert mix (EMF)", width=8, left=by_severity,
                                   view=cloudwatch.GraphWidgetView.PIE),
            cloudwatch.SingleValueWidget(title="Patterns evaluated (EMF)", width=8, metrics=[
                emf_metric("PatternsEvaluated", {"Service": "threshold-checker"}, "Sum"),
                emf_metric("RecordsProcessed", {"Service": "kinesis-consumer"}, "Sum")]),
            cloudwatch.GraphWidget(title="Lambda invocations", width=8,
                                   left=per_function("Invocations", statistic="Sum")),
            cloudwatch.GraphWidget(title="Lambda errors", width=8, stacked=True,
                                   left=per_function("Errors", statistic="Sum")),
            cloudwatch.GraphWidget(title="Lambda p99 duration", width=8,
                                   left=per_function("Duration", statistic="p99")),
            cloudwatch.GraphWidget(title="API requests and errors", width=12, left=[
                api.api.metric_count(period=FIVE_MINUTES), api.api.metric_client_error(period=FIVE_MINUTES),
                api.api.metric_server_error(period=FIVE_MINUTES)]),
            cloudwatch.GraphWidget(title="API latency", width=12, left=[
                api.api.metric_latency(period=FIVE_MINUTES, statistic="p50"),
                api.api.metric_latency(period=FIVE_MINUTES, statistic="p99")]),
            cloudwatch.GraphWidget(title="Queues", width=8, stacked=True, left=[
                q.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES)
                for q in (data.alert_queue, data.approvals_queue, data.alert_dlq, data.approvals_dlq)]),
            cloudwatch.GraphWidget(title="Market data stream", width=8, left=[
                data.stream.metric_incoming_records(period=FIVE_MINUTES)],
                right=[functions["kinesis-consumer"].metric("IteratorAge", period=FIVE_MINUTES, statistic="Maximum")]),
            cloudwatch.GraphWidget(title="Workflows", width=8, left=[
                orchestration.analysis_workflow.metric_succeeded(period=FIVE_MINUTES),
                orchestration.analysis_workflow.metric_failed(period=FIVE_MINUTES),
                orchestration.power_tuning_workflow.metric_failed(period=FIVE_MINUTES)]),
        ]
        dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=self.name("PatternDetectionDashboard")
        )
        for widget in widgets:
            dashboard.add_widgets(widget)
        return dashboard
