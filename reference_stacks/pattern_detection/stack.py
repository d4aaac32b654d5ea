"""Stock pattern detection (seed 004) as a parent stack with five nested stacks.

Seed items and where each variant covers them (ideal / baseline):

1. Five nested stacks Data, Compute, Api, Orchestration, Monitoring (``data.py`` ...
   ``monitoring.py``) -- both; the baseline is the skeleton the seed's first answer only promised.
2. Five functions with real handlers (``handlers/``): ideal wires them to tables, queues, topics,
   the stream and EventBridge with grants; baseline: placeholders by fixed names, no wiring.
3. Kinesis ON_DEMAND, 24 h, customer-managed KMS key with rotation, enhanced fan-out consumer,
   batch 100 / 5 s / bisect / capped retries / SQS on-failure -- ideal (``data.py``, ``compute.py``).
4. Step Functions EXPRESS PatternAnalysisWorkflow (validation -> 3-branch Parallel -> scoring ->
   decision, Retry 3 x 2.0 and Catch -> ManualReview, logs ALL, X-Ray) and PowerTuningWorkflow over
   [512, 1024, 1536, 2048, 3008] -- ideal; baseline: the bare chain, no retry/catch/logs/tracing.
5. Canary: API stage canary 10 %, 'live' alias, CodeDeploy CANARY_10PERCENT_5MINUTES with a 2 %
   canary-error alarm and auto rollback -- ideal.
6. WAF WebACL (rate 2000/5 min, geo CN/RU/KP, common rule set, X-API-Key >= 20) logging to an
   ``aws-waf-logs-`` bucket, associated with the stage -- ideal.
7. Dashboard with 14 widgets, EMF namespace StockPatternDetection, anomaly detection on
   PatternDetectionDuration, billing alarm at 100 USD, alarms to one topic -- ideal; baseline: none.
8. Cost: ARM64, Intelligent-Tiering from day 0, tags Project/Environment/CostCenter -- ideal.
9. Approval workflow: AlertApprovalRequests topic, ApprovalTracking table with TTL expiresAt,
   PendingApprovals queue (2 h visibility), idempotent approval processor, /approve/{token} -- both
   have the resources; only the ideal validates and wires them.
10. Environment suffix in every name -- ideal; baseline: fixed names (``TradingPatterns``).
11. Dependency chain compute->data, api->compute, orchestration->compute, monitoring->api,
    monitoring->orchestration -- ideal (``add_dependency``); baseline: none, and no references
    between the nested stacks (they find each other by literal names).
12. X-Ray on functions, API stage and state machines -- ideal; baseline: none.
13. Outputs for integration tests, surfaced on the parent -- ideal; baseline: none.

Context: ``alarm_email`` (ideal) subscribes an address to the alarm topic.
"""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from reference_stacks.common import ReferenceStack, add_outputs

from .api import ApiStack
from .compute import ComputeStack
from .data import DataStack
from .monitoring import MonitoringStack
from .orchestration import OrchestrationStack

EXPORT_PREFIX = "patterns"
COST_TAGS = {"Project": "StockPatternDetection", "CostCenter": "trading-analytics"}


class PatternDetectionStack(ReferenceStack):
    """Parent stack: builds the nested stacks in dependency order and surfaces their outputs."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        common = {"variant": self.variant, "environment_suffix": self.environment_suffix}
        self.data = DataStack(self, "Data", **common)
        self.compute = ComputeStack(self, "Compute", data=self.data, **common)
        self.api = ApiStack(self, "Api", data=self.data, compute=self.compute, **common)
        self.orchestration = OrchestrationStack(self, "Orchestration", data=self.data, compute=self.compute, **common)
        self.monitoring = MonitoringStack(
            self, "Monitoring", data=self.data, compute=self.compute, api=self.api,
            orchestration=self.orchestration, **common,
        )
        self.nested_stacks = (self.data, self.compute, self.api, self.orchestration, self.monitoring)
        if self.ideal:
            # Explicit even where references already imply it: the deployment order is part of the design.
            self.compute.add_stack_dependency(self.data)
            self.api.add_stack_dependency(self.compute)
            self.orchestration.add_stack_dependency(self.compute)
            self.monitoring.add_stack_dependency(self.api)
            self.monitoring.add_stack_dependency(self.orchestration)
            for key, value in {**COST_TAGS, "Environment": self.environment_suffix}.items():
                cdk.Tags.of(self).add(key, value)
            self._outputs()

    def _outputs(self) -> None:
        data, compute, api, orchestration = self.data, self.compute, self.api, self.orchestration
        functions = compute.functions
        outputs = [
            ("TradingPatternsTableName", data.patterns_table.table_name, "DynamoDB table of detected patterns"),
            ("ApprovalTrackingTableName", data.approval_table.table_name, "DynamoDB table of approval tokens (TTL)"),
            ("AlertQueueUrl", data.alert_queue.queue_url, "URL of the alert queue"),
            ("AlertQueueArn", data.alert_queue.queue_arn, "ARN of the alert queue"),
            ("AlertDlqUrl", data.alert_dlq.queue_url, "URL of the alert queue's dead-letter queue"),
            ("AlertDlqArn", data.alert_dlq.queue_arn, "ARN of the alert queue's dead-letter queue"),
            ("PendingApprovalsQueueUrl", data.approvals_queue.queue_url, "URL of the pending-approvals queue"),
            ("PendingApprovalsQueueArn", data.approvals_queue.queue_arn, "ARN of the pending-approvals queue"),
            ("PendingApprovalsDlqUrl", data.approvals_dlq.queue_url, "URL of the pending-approvals DLQ"),
            ("PendingApprovalsDlqArn", data.approvals_dlq.queue_arn, "ARN of the pending-approvals DLQ"),
            ("TradingAlertsTopicArn", data.trading_alerts_topic.topic_arn, "ARN of the trading-alerts topic"),
            ("ApprovalRequestsTopicArn", data.approval_topic.topic_arn, "ARN of the approval-requests topic"),
            ("AlarmTopicArn", data.alarm_topic.topic_arn, "ARN of the topic every alarm notifies"),
            ("MarketDataStreamName", data.stream.stream_name, "Name of the market-data Kinesis stream"),
            ("MarketDataStreamArn", data.stream.stream_arn, "ARN of the market-data Kinesis stream"),
            ("DataKeyArn", data.key.key_arn, "ARN of the KMS key for the stream and topics"),
            ("WafLogBucketName", data.waf_log_bucket.bucket_name, "S3 bucket receiving WAF logs"),
            *[
                (f"{spec}FunctionName", functions[key].function_name, f"Name of the {key} function")
                for key, spec in (("pattern-detector", "PatternDetector"), ("alert-processor", "AlertProcessor"),
                                  ("threshold-checker", "ThresholdChecker"), ("kinesis-consumer", "KinesisConsumer"),
                                  ("approval-processor", "ApprovalProcessor"))
            ],
            ("PatternDetectorFunctionArn", functions["pattern-detector"].function_arn, "ARN of the pattern detector"),
            ("PatternDetectorAliasArn", compute.detector_alias.function_arn, "ARN of the detector's 'live' alias"),
            ("SharedLayerArn", compute.layer.layer_version_arn, "ARN of the shared-dependencies layer version"),
            ("AsyncFailureQueueUrl", compute.failure_queue.queue_url, "Queue of failed async/stream invocations"),
            ("CodeDeployApplicationName", compute.deploy_application.application_name, "CodeDeploy application"),
            ("DeploymentGroupName", compute.deployment_group.deployment_group_name, "CodeDeploy canary group"),
            ("ApiUrl", api.api.url, "Invoke URL of the REST API stage"),
            ("ApiId", api.api.rest_api_id, "ID of the REST API"),
            ("ApiStageName", api.api.deployment_stage.stage_name, "Stage of the REST API"),
            ("ApiKeyId", api.api_key.key_id, "ID of the API key (value: aws apigateway get-api-key --include-value)"),
            ("WebAclArn", api.web_acl.attr_arn, "ARN of the WAF web ACL on the API stage"),
            ("PatternAnalysisStateMachineArn", orchestration.analysis_workflow.state_machine_arn,
             "ARN of the EXPRESS pattern analysis workflow"),
            ("PowerTuningStateMachineArn", orchestration.power_tuning_workflow.state_machine_arn,
             "ARN of the power tuning workflow"),
            ("ThresholdCheckRuleName", orchestration.threshold_rule.rule_name,
             "Schedule rule of the threshold checker"),
            ("PatternAnalysisTriggerRuleName", orchestration.trigger_rule.rule_name,
             "Event-pattern rule that starts the analysis workflow"),
            ("EventTargetDlqUrl", orchestration.events_dlq.queue_url, "DLQ of the EventBridge targets"),
            ("DashboardName", self.monitoring.dashboard.dashboard_name, "CloudWatch dashboard"),
        ]
        add_outputs(self, outputs, export_prefix=EXPORT_PREFIX, environment_suffix=self.environment_suffix)
