"""DataStack: tables, queues, topics, the market-data stream and the WAF log bucket."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from reference_stacks.common import (
    Variant,
    alarm_email,
    alarm_notification_key,
    dead_letter_queue,
    encrypted_topic,
)

from .base import PatternNestedStack

# 6x the alert processor's 30 s timeout, so a batch in flight is never redelivered.
ALERT_QUEUE_VISIBILITY = cdk.Duration.seconds(180)
# Humans review pending approvals; a received message stays hidden for the review window.
PENDING_APPROVALS_VISIBILITY = cdk.Duration.hours(2)


class DataStack(PatternNestedStack):
    """Foundation of the system: everything else reads, writes or publishes to these."""

    def __init__(self, scope: Construct, construct_id: str, *, variant: Variant, environment_suffix: str) -> None:
        super().__init__(
            scope,
            construct_id,
            variant=variant,
            environment_suffix=environment_suffix,
            description="Pattern detection data: DynamoDB, SQS, SNS, Kinesis, S3",
        )
        self.key = (
            alarm_notification_key(
                self,
                "DataKey",
                alias=f"alias/{self.name('pattern-detection')}",
                description="Encrypts the market-data stream and the SNS topics",
                same_account_only=True,
            )
            if self.ideal
            else None
        )
        self.patterns_table = self._table(
            "TradingPatternsTable",
            "TradingPatterns",
            dynamodb.Attribute(name="patternId", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="timestamp", type=dynamodb.AttributeType.NUMBER),
        )
        self.approval_table = self._table(
            "ApprovalTrackingTable",
            "ApprovalTracking",
            dynamodb.Attribute(name="token", type=dynamodb.AttributeType.STRING),
            time_to_live_attribute="expiresAt",
        )
        self.alert_dlq = self._dlq("AlertQueueDLQ", "the alert queue")
        self.alert_queue = self._queue("AlertQueue", ALERT_QUEUE_VISIBILITY, self.alert_dlq, max_receive_count=3)
        self.approvals_dlq = self._dlq(
            "PendingApprovalsDLQ", "the pending-approvals queue and of its approval-topic subscription"
        )
        self.approvals_queue = self._queue(
            "PendingApprovals", PENDING_APPROVALS_VISIBILITY, self.approvals_dlq, max_receive_count=5
        )
        self.trading_alerts_topic = self._topic("TradingAlertsTopic", "TradingAlerts", "Trading pattern alerts")
        self.approval_topic = self._topic(
            "ApprovalRequestsTopic", "AlertApprovalRequests", "CRITICAL alerts awaiting approval"
        )
        self.approval_topic.add_subscription(
            subscriptions.SqsSubscription(
                self.approvals_queue, raw_message_delivery=True, dead_letter_queue=self.approvals_dlq
            )
        )
        self.alarm_topic = (
            self._topic(
                "AlarmTopic", "PatternDetectionAlarms", "Pattern detection alarms",
                email=alarm_email(self),
            )
            if self.ideal
            else None
        )
        self.stream = self._stream()
        # Enhanced fan-out: the consumer gets its own 2 MB/s per shard instead of sharing reads.
        self.stream_consumer = (
            kinesis.StreamConsumer(
                self, "MarketDataConsumer", stream=self.stream,
                stream_consumer_name=self.name("MarketDataConsumer"),
            )
            if self.ideal
            else None
        )
        self.waf_log_bucket = self._bucket()

    def _table(
        self,
        construct_id: str,
        base_name: str,
        partition_key: dynamodb.Attribute,
        *,
        sort_key: dynamodb.Attribute | None = None,
        time_to_live_attribute: str | None = None,
    ) -> dynamodb.Table:
        return dynamodb.Table(
            self,
            construct_id,
            table_name=self.name(base_name),
            partition_key=partition_key,
            sort_key=sort_key,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=time_to_live_attribute,
            point_in_time_recovery_specification=(
                dynamodb.PointInTimeRecoverySpecification(point_in_time_recovery_enabled=True)
                if self.ideal
                else None
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED if self.ideal else None,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )

    def _dlq(self, base_name: str, dead_letter_of: str) -> sqs.Queue | None:
        if not self.ideal:
            return None
        return dead_letter_queue(self, base_name, queue_name=self.name(base_name), dead_letter_of=dead_letter_of)

    def _queue(
        self, base_name: str, visibility: cdk.Duration, dlq: sqs.Queue | None, *, max_receive_count: int
    ) -> sqs.Queue:
        return sqs.Queue(
            self,
            base_name,
            queue_name=self.name(base_name),
            visibility_timeout=visibility,
            retention_period=cdk.Duration.days(4),
            dead_letter_queue=(
                sqs.DeadLetterQueue(queue=dlq, max_receive_count=max_receive_count) if dlq is not None else None
            ),
            encryption=sqs.QueueEncryption.SQS_MANAGED if self.ideal else None,
            enforce_ssl=self.ideal,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )

    def _topic(self, construct_id: str, base_name: str, display_name: str, email: str | None = None) -> sns.Topic:
        return encrypted_topic(
            self, construct_id, topic_name=self.name(base_name), display_name=display_name, key=self.key, email=email
        )

    def _stream(self) -> kinesis.Stream:
        if not self.ideal:
            return kinesis.Stream(self, "MarketDataStream", stream_name=self.name("MarketDataStream"))
        return kinesis.Stream(
            self,
            "MarketDataStream",
            stream_name=self.name("MarketDataStream"),
            stream_mode=kinesis.StreamMode.ON_DEMAND,
            retention_period=cdk.Duration.hours(24),
            encryption=kinesis.StreamEncryption.KMS,
            encryption_key=self.key,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )

    def _bucket(self) -> s3.Bucket:
        if not self.ideal:
            return s3.Bucket(self, "WafLogBucket", removal_policy=cdk.RemovalPolicy.DESTROY)
        bucket = s3.Bucket(
            self,
            "WafLogBucket",
            # WAF only delivers logs to buckets whose name starts with aws-waf-logs-.
            bucket_name=f"aws-waf-logs-pattern-detection-{cdk.Aws.ACCOUNT_ID}-{self.suffix}",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="intelligent-tiering-from-day-0",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INTELLIGENT_TIERING,
                            transition_after=cdk.Duration.days(0),
                        )
                    ],
                    expiration=cdk.Duration.days(365),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
                )
            ],
            # Deleted with the stack only when empty: WAF logs are evidence, never auto-deleted.
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        # WAF writes its logs through the log-delivery service.
        delivery = iam.ServicePrincipal("delivery.logs.amazonaws.com")
        source = {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AWSLogDeliveryWrite",
                principals=[delivery],
                actions=["s3:PutObject"],
                resources=[bucket.arn_for_objects(f"AWSLogs/{cdk.Aws.ACCOUNT_ID}/*")],
                conditions={"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", **source}},
            )
        )
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AWSLogDeliveryAclCheck",
                principals=[delivery],
                actions=["s3:GetBucketAcl"],
                resources=[bucket.bucket_arn],
                conditions={"StringEquals": source},
            )
        )
        return bucket
