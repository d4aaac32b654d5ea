"""ComputeStack: the five functions, their layer, the canary alias and CodeDeploy, per-function alarms."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as event_sources
from constructs import Construct

from reference_stacks.common import (
    PYTHON_RUNTIME,
    Variant,
    acknowledge_async_failures,
    acknowledge_key_grant,
    acknowledge_sqs_consumer,
    acknowledge_synchronous_only,
    dead_letter_queue,
    handler_code,
    notified_alarm,
    python_function,
)

from .base import LOG_RETENTION, METRICS_NAMESPACE, PatternNestedStack
from .data import DataStack

HANDLERS_DIR = Path(__file__).resolve().parent / "handlers"
LAYER_DIR = Path(__file__).resolve().parent / "layer"
CANARY_ERROR_RATE_PERCENT = 2


@dataclass(frozen=True)
class FunctionSpec:
    """One function: physical base name, handler module and sizing."""

    key: str
    base_name: str
    module: str
    description: str
    timeout_seconds: int
    memory_size: int
    environment: dict[str, str] = field(default_factory=dict)
    reserved_concurrency: int | None = None


class ComputeStack(PatternNestedStack):
    """Functions wired to the data stack's resources."""

    def __init__(
        self, scope: Construct, construct_id: str, *, variant: Variant, environment_suffix: str, data: DataStack
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            variant=variant,
            environment_suffix=environment_suffix,
            description="Pattern detection compute: Lambda functions, layer, canary deployment",
        )
        self.code = handler_code(HANDLERS_DIR)
        self.functions: dict[str, lambda_.Function] = {}
        self.alarms: list[cloudwatch.Alarm] = []
        if self.ideal:
            self._build_ideal(data)
        else:
            self._build_baseline()

    # --- ideal ---------------------------------------------------------------------------------

    def _specs(self, data: DataStack) -> list[FunctionSpec]:
        patterns = data.patterns_table.table_name
        return [
            FunctionSpec("pattern-detector", "PatternDetector", "pattern_detector",
                         "Detects chart patterns (API and Step Functions actions)", 30, 1024,
                         {"PATTERNS_TABLE": patterns, "PATTERN_CONFIDENCE_THRESHOLD": "0.8"}),
            FunctionSpec("alert-processor", "AlertProcessor", "alert_processor",
                         "Routes queued alerts: CRITICAL to approval, others to trading alerts", 30, 512,
                         {"TRADING_ALERTS_TOPIC_ARN": data.trading_alerts_topic.topic_arn,
                          "APPROVAL_TOPIC_ARN": data.approval_topic.topic_arn,
                          "APPROVAL_TABLE": data.approval_table.table_name},
                         # The alert queue's consumer: bounded so an alert storm cannot starve the rest.
                         reserved_concurrency=20),
            FunctionSpec("threshold-checker", "ThresholdChecker", "threshold_checker",
                         "Scans patterns on a schedule and queues threshold alerts", 60, 512,
                         {"PATTERNS_TABLE": patterns, "ALERT_QUEUE_URL": data.alert_queue.queue_url,
                          "ERROR_THRESHOLD": "5", "PATTERN_CONFIDENCE_THRESHOLD": "0.9"}),
            FunctionSpec("kinesis-consumer", "KinesisConsumer", "kinesis_consumer",
                         "Stores streamed patterns and alerts on confidence > 0.9", 60, 512,
                         {"PATTERNS_TABLE": patterns, "ALERT_QUEUE_URL": data.alert_queue.queue_url}),
            FunctionSpec("approval-processor", "ApprovalProcessor", "approval_processor",
                         "Decides pending approvals exactly once (conditional writes)", 10, 256,
                         {"APPROVAL_TABLE": data.approval_table.table_name,
                          "RESULTS_TOPIC_ARN": data.trading_alerts_topic.topic_arn}),
        ]

    def _build_ideal(self, data: DataStack) -> None:
        self.layer = lambda_.LayerVersion(
            self,
            "SharedDependencies",
            layer_version_name=self.name("shared-dependencies"),
            code=lambda_.Code.from_asset(str(LAYER_DIR), exclude=["**/__pycache__", "**/*.pyc"]),
            compatible_runtimes=[PYTHON_RUNTIME],
            compatible_architectures=[lambda_.Architecture.ARM_64],
            description="Shared settings of the pattern-detection functions",
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        for spec in self._specs(data):
            function_name = self.name(spec.base_name)
            self.functions[spec.key] = python_function(
                self,
                spec.base_name,
                code=self.code,
                handler=f"{spec.module}.handler",
                function_name=function_name,
                description=spec.description,
                timeout=cdk.Duration.seconds(spec.timeout_seconds),
                memory_size=spec.memory_size,
                environment={**spec.environment, "METRICS_NAMESPACE": METRICS_NAMESPACE},
                tracing=True,
                log_retention=LOG_RETENTION,
                architecture=lambda_.Architecture.ARM_64,
                layers=[self.layer],
                reserved_concurrent_executions=spec.reserved_concurrency,
            )
            self._function_alarms(spec, self.functions[spec.key], data)
        detector = self.functions["pattern-detector"]
        alert_processor = self.functions["alert-processor"]
        threshold_checker = self.functions["threshold-checker"]
        kinesis_consumer = self.functions["kinesis-consumer"]
        approval_processor = self.functions["approval-processor"]

        data.patterns_table.grant_read_write_data(detector)
        data.patterns_table.grant_read_write_data(threshold_checker)
        data.patterns_table.grant_write_data(kinesis_consumer)
        data.approval_table.grant_write_data(alert_processor)
        data.approval_table.grant_read_write_data(approval_processor)
        data.trading_alerts_topic.grant_publish(alert_processor)
        data.approval_topic.grant_publish(alert_processor)
        data.trading_alerts_topic.grant_publish(approval_processor)
        data.alert_queue.grant_send_messages(threshold_checker)
        data.alert_queue.grant_send_messages(kinesis_consumer)

        # Where async invocations and stream batches go after their retries are spent.
        self.failure_queue = dead_letter_queue(
            self,
            "AsyncFailures",
            queue_name=self.name("PatternAsyncFailures"),
            dead_letter_of="the kinesis consumer's stream batches and the threshold checker's asynchronous "
            "invocations (their on-failure destination)",
        )
        alert_processor.add_event_source(
            event_sources.SqsEventSource(
                data.alert_queue,
                batch_size=10,
                max_batching_window=cdk.Duration.seconds(5),
                report_batch_item_failures=True,
            )
        )
        kinesis_consumer.add_event_source(
            event_sources.KinesisConsumerEventSource(
                data.stream_consumer,
                starting_position=lambda_.StartingPosition.LATEST,
                batch_size=100,
                max_batching_window=cdk.Duration.seconds(5),
                bisect_batch_on_error=True,
                retry_attempts=3,
                max_record_age=cdk.Duration.hours(1),
                report_batch_item_failures=True,
                on_failure=event_sources.SqsDlq(self.failure_queue),
            )
        )
        # EventBridge invokes the threshold checker asynchronously.
        threshold_checker.configure_async_invoke(
            on_failure=destinations.SqsDestination(self.failure_queue),
            retry_attempts=2,
            max_event_age=cdk.Duration.hours(1),
        )
        self._acknowledge_invocations(data)
        self._canary(detector, data)

    def _acknowledge_invocations(self, data: DataStack) -> None:
        """Functions without DLQs where none applies, and CDK's key grants for the encrypted topics."""
        functions = self.functions
        acknowledge_synchronous_only(
            functions["pattern-detector"], "by API Gateway and by the Step Functions workflows' LambdaInvoke tasks"
        )
        acknowledge_synchronous_only(functions["approval-processor"], "by API Gateway on POST /approve/{token}")
        acknowledge_synchronous_only(functions["kinesis-consumer"], "by its Kinesis event source mapping")
        acknowledge_synchronous_only(functions["alert-processor"], "by its SQS event source mapping")
        acknowledge_sqs_consumer(functions["alert-processor"], "the alert queue")
        acknowledge_async_failures(functions["threshold-checker"], "PatternAsyncFailures")
        for key, use in (
            ("alert-processor", "publish to the KMS-encrypted trading-alert and approval topics"),
            ("approval-processor", "publish to the KMS-encrypted trading-alert topic"),
        ):
            acknowledge_key_grant(functions[key].role, use)

    def _canary(self, detector: lambda_.Function, data: DataStack) -> None:
        self.detector_alias = lambda_.Alias(
            self, "PatternDetectorLive", alias_name="live", version=detector.current_version
        )
        errors = self.detector_alias.metric_errors(period=cdk.Duration.minutes(1), statistic="Sum")
        invocations = self.detector_alias.metric_invocations(period=cdk.Duration.minutes(1), statistic="Sum")
        self.canary_alarm = notified_alarm(
            self,
            "CanaryErrorsAlarm",
            alarm_name=self.name("PatternDetectorCanaryErrors"),
            description=f"Error rate of the 'live' alias above {CANARY_ERROR_RATE_PERCENT} % during a deployment",
            metric=cloudwatch.MathExpression(
                expression="IF(invocations > 0, 100 * errors / invocations, 0)",
                using_metrics={"errors": errors, "invocations": invocations},
                label="Canary error rate (%)",
                period=cdk.Duration.minutes(1),
            ),
            threshold=CANARY_ERROR_RATE_PERCENT,
            topic=data.alarm_topic,
        )
        self.alarms.append(self.canary_alarm)
        self.deploy_application = codedeploy.LambdaApplication(
            self, "DeployApplication", application_name=self.name("pattern-detector-app")
        )
        self.deployment_group = codedeploy.LambdaDeploymentGroup(
            self,
            "DeploymentGroup",
            application=self.deploy_application,
            deployment_group_name=self.name("pattern-detector-canary"),
            alias=self.detector_alias,
            deployment_config=codedeploy.LambdaDeploymentConfig.CANARY_10_PERCENT_5_MINUTES,
            alarms=[self.canary_alarm],
            auto_rollback=codedeploy.AutoRollbackConfig(
                failed_deployment=True, stopped_deployment=True, deployment_in_alarm=True
            ),
        )

    def _function_alarms(self, spec: FunctionSpec, function: lambda_.Function, data: DataStack) -> None:
        period = cdk.Duration.minutes(5)
        checks = [
            ("Errors", function.metric_errors(period=period, statistic="Sum"), 0,
             "invocations failed"),
            ("Throttles", function.metric_throttles(period=period, statistic="Sum"), 0,
             "invocations throttled"),
            ("Duration", function.metric_duration(period=period, statistic="p99"),
             spec.timeout_seconds * 1000 * 0.8, "p99 duration above 80 % of the timeout"),
        ]
        if spec.reserved_concurrency:
            checks.append(("Concurrency", function.metric("ConcurrentExecutions", period=period, statistic="Maximum"),
                           spec.reserved_concurrency * 0.9, "concurrency above 90 % of its reserved"))
        for label, metric, threshold, what in checks:
            self.alarms.append(
                notified_alarm(
                    self,
                    f"{spec.base_name}{label}Alarm",
                    alarm_name=self.name(f"{spec.base_name}-{label.lower()}"),
                    description=f"{spec.base_name}: {what}",
                    metric=metric,
                    threshold=threshold,
                    topic=data.alarm_topic,
                )
            )

    # --- baseline ------------------------------------------------------------------------------

    def _build_baseline(self) -> None:
        """Placeholder functions: fixed names, literal resource names, no tracing, no log groups, no wiring."""
        self.detector_alias = None
        environment = {
            "PATTERNS_TABLE": "TradingPatterns",
            "APPROVAL_TABLE": "ApprovalTracking",
            "ALERT_QUEUE_URL": f"https://sqs.{cdk.Aws.REGION}.amazonaws.com/{cdk.Aws.ACCOUNT_ID}/AlertQueue",
            "TRADING_ALERTS_TOPIC_ARN": f"arn:aws:sns:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:TradingAlerts",
            "APPROVAL_TOPIC_ARN": f"arn:aws:sns:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:AlertApprovalRequests",
        }
        for key, base_name, module in (
            ("pattern-detector", "PatternDetector", "pattern_detector"),
            ("alert-processor", "AlertProcessor", "alert_processor"),
            ("threshold-checker", "ThresholdChecker", "threshold_checker"),
            ("kinesis-consumer", "KinesisConsumer", "kinesis_consumer"),
            ("approval-processor", "ApprovalProcessor", "approval_processor"),
        ):
            self.functions[key] = python_function(
                self,
                base_name,
                code=self.code,
                handler=f"{module}.handler",
                function_name=base_name,
                environment=environment,
            )
