"""Seed 003, e-commerce order pipeline: API -> handler -> SQS -> processor -> DynamoDB + SNS.

The seed's items and how each variant covers them:

1. DLQ: ideal ``order-dlq-<suffix>`` (14 days) behind ``order-queue-<suffix>``
   (visibility 300 s, maxReceiveCount 3); baseline queue has no redrive policy.
2. Architecture: ideal API -> ``api_handler`` (validates, queues) -> SQS ->
   ``order_processor``; baseline API integrates the processor directly
   (``order_processor`` also serves proxy events for that reason).
3. Alarms: ideal processor errors/throttles, DLQ messages, queue depth, plus the
   production rules' alarms (:mod:`.monitoring`), all to one alarm topic;
   baseline none. Context ``enable_alarms=false`` drops them from the ideal.
4. GSI ``CustomerIdIndex`` (customerId + timestamp S, ALL): ideal only.
5. X-Ray on both functions and the API stage: ideal only.
6. RequestValidator + model requiring orderId, customerId, items: ideal only.
7. Reserved concurrency 100 on the processor: ideal only.
8. Log retention one week via explicit log groups: ideal; baseline leaves the
   implicit, never-expiring groups.
9. SQS event source batch 10, window 5 s, batch item failures: ideal; baseline
   maps the queue with no batching configuration.
10. Outputs: ideal exports endpoint, table, queues, topics, functions, WAF;
    baseline only ApiEndpoint and OrdersTableName.
11. PITR: ideal only.
12. Stage ``prod`` with INFO logging, data trace, metrics (+ access logs,
    throttling): ideal; baseline uses the default stage.

Beyond the seed the ideal adds what the production rules ask: SQS-managed
encryption, KMS-encrypted topics (key with rotation), a regional WAF WebACL
(context ``enable_waf=false`` drops it) and DESTROY removal policies.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from reference_stacks.common import (
    acknowledge_index_grant,
    acknowledge_key_grant,
    acknowledge_sqs_consumer,
    acknowledge_synchronous_only,
    ReferenceStack,
    add_outputs,
    alarm_notification_key,
    context_flag,
    dead_letter_queue,
    encrypted_topic,
    handler_code,
    named,
    python_function,
)
from reference_stacks.order_pipeline.api import baseline_api, ideal_api
from reference_stacks.order_pipeline.monitoring import MonitoredFunction, add_alarms

EXPORT_PREFIX = "orders"
HANDLERS_DIR = Path(__file__).resolve().parent / "handlers"
METRICS_NAMESPACE = "OrderPipeline"
CUSTOMER_INDEX = "CustomerIdIndex"

QUEUE_VISIBILITY = cdk.Duration.seconds(300)
MAX_RECEIVE_COUNT = 3
# 300 s visibility >= 6 x 30 s keeps a batch invisible while it is retried in flight.
PROCESSOR_TIMEOUT = cdk.Duration.seconds(30)
PROCESSOR_MEMORY = 512
PROCESSOR_RESERVED_CONCURRENCY = 100
API_HANDLER_TIMEOUT = cdk.Duration.seconds(10)
API_HANDLER_MEMORY = 256
BATCH_SIZE = 10
MAX_BATCHING_WINDOW = cdk.Duration.seconds(5)
LOG_RETENTION = logs.RetentionDays.ONE_WEEK


class OrderPipelineStack(ReferenceStack):
    """The order pipeline in the ``ideal`` or the seed's ``baseline`` variant."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        ideal = self.ideal
        suffix = self.environment_suffix
        code = handler_code(HANDLERS_DIR)

        # One key encrypts both topics (the order events and the alarms).
        topic_key = (
            alarm_notification_key(
                self, "TopicKey", description=f"Encrypts the order pipeline SNS topics ({suffix})"
            )
            if ideal
            else None
        )
        self.dlq = (
            dead_letter_queue(self, "OrderDLQ", queue_name=named("order-dlq", suffix), dead_letter_of="the order queue")
            if ideal
            else None
        )
        hardening = (
            dict(
                retention_period=cdk.Duration.days(4),
                dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=MAX_RECEIVE_COUNT, queue=self.dlq),
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
            )
            if ideal
            else {}
        )
        self.queue = sqs.Queue(
            self,
            "OrderQueue",
            queue_name=named("order-queue", suffix),
            visibility_timeout=QUEUE_VISIBILITY,
            **hardening,
        )
        self.table = self._table(ideal)
        self.order_topic = encrypted_topic(
            self,
            "OrderTopic",
            topic_name=named("order-events", suffix),
            display_name="Processed orders",
            key=topic_key,
        )

        self.processor = python_function(
            self,
            "OrderProcessor",
            code=code,
            handler="order_processor.handler",
            function_name=named("order-processor", suffix),
            description="Stores orders in DynamoDB and publishes them to the order topic",
            timeout=PROCESSOR_TIMEOUT,
            memory_size=PROCESSOR_MEMORY,
            environment={
                "ORDERS_TABLE_NAME": self.table.table_name,
                "ORDER_TOPIC_ARN": self.order_topic.topic_arn,
                "METRICS_NAMESPACE": METRICS_NAMESPACE,
            },
            tracing=ideal,
            log_retention=LOG_RETENTION if ideal else None,
            reserved_concurrent_executions=PROCESSOR_RESERVED_CONCURRENCY if ideal else None,
        )
        self.table.grant_write_data(self.processor)
        self.order_topic.grant_publish(self.processor)
        acknowledge_index_grant(
            self.processor.role, self.table, "the write actions of CDK's grant_write_data do not apply to index ARNs"
        )
        acknowledge_key_grant(self.processor.role, "publish to the encrypted order topic")
        acknowledge_synchronous_only(self.processor, "by its SQS event source mapping on the order queue")
        acknowledge_sqs_consumer(self.processor, "the order queue")
        self.processor.add_event_source(
            event_sources.SqsEventSource(
                self.queue,
                batch_size=BATCH_SIZE,
                max_batching_window=MAX_BATCHING_WINDOW,
                report_batch_item_failures=True,
            )
            if ideal
            # The seed: "no batch processing configuration was added to the event source mapping".
            else event_sources.SqsEventSource(self.queue)
        )

        if ideal:
            self.api_handler = python_function(
                self,
                "ApiHandler",
                code=code,
                handler="api_handler.handler",
                function_name=named("order-api-handler", suffix),
                description="Validates POST /orders and sends the order to the order queue",
                timeout=API_HANDLER_TIMEOUT,
                memory_size=API_HANDLER_MEMORY,
                environment={
                    "ORDER_QUEUE_URL": self.queue.queue_url,
                    "METRICS_NAMESPACE": METRICS_NAMESPACE,
                },
                tracing=True,
                log_retention=LOG_RETENTION,
            )
            self.queue.grant_send_messages(self.api_handler)
            acknowledge_synchronous_only(self.api_handler, "by API Gateway's Lambda proxy integration")
            self.api, self.web_acl = ideal_api(
                self,
                environment_suffix=suffix,
                target=self.api_handler,
                enable_waf=context_flag(self, "enable_waf", True),
            )
        else:
            self.api_handler = None
            self.web_acl = None
            self.api = baseline_api(self, environment_suffix=suffix, target=self.processor)

        self.alarm_topic = None
        self.alarms = []
        if ideal and context_flag(self, "enable_alarms", True):
            self.alarm_topic = encrypted_topic(
                self,
                "AlarmTopic",
                topic_name=named("order-alarms", suffix),
                display_name="Order pipeline alarms",
                key=topic_key,
            )
            self.alarms = add_alarms(
                self,
                environment_suffix=suffix,
                topic=self.alarm_topic,
                functions=[
                    MonitoredFunction(
                        "order-processor",
                        "OrderProcessor",
                        self.processor,
                        PROCESSOR_TIMEOUT,
                        PROCESSOR_RESERVED_CONCURRENCY,
                    ),
                    MonitoredFunction(
                        "order-api-handler", "ApiHandler", self.api_handler, API_HANDLER_TIMEOUT
                    ),
                ],
                queue=self.queue,
                dlq=self.dlq,
                api=self.api,
                table=self.table,
            )

        self._outputs(ideal)

    def _table(self, ideal: bool) -> dynamodb.Table:
        table = dynamodb.Table(
            self,
            "OrdersTable",
            table_name=named("orders", self.environment_suffix),
            partition_key=dynamodb.Attribute(name="orderId", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            removal_policy=cdk.RemovalPolicy.DESTROY,
            point_in_time_recovery_specification=(
                dynamodb.PointInTimeRecoverySpecification(point_in_time_recovery_enabled=True)
                if ideal
                else None
            ),
        )
        if ideal:
            table.add_global_secondary_index(
                index_name=CUSTOMER_INDEX,
                partition_key=dynamodb.Attribute(name="customerId", type=dynamodb.AttributeType.STRING),
                sort_key=dynamodb.Attribute(name="timestamp", type=dynamodb.AttributeType.STRING),
                projection_type=dynamodb.ProjectionType.ALL,
            )
        return table

    def _outputs(self, ideal: bool) -> None:
        outputs = [
            ("ApiEndpoint", self.api.url, "Order API stage URL (POST orders to <url>orders)"),
            ("OrdersTableName", self.table.table_name, "DynamoDB table holding the orders"),
        ]
        if ideal:
            outputs += [
                ("OrdersUrl", self.api.url_for_path("/orders"), "URL to POST orders to"),
                ("ApiId", self.api.rest_api_id, "REST API id"),
                ("ApiStageName", self.api.deployment_stage.stage_name, "REST API stage name"),
                ("OrdersTableArn", self.table.table_arn, "ARN of the orders table"),
                ("CustomerIndexName", CUSTOMER_INDEX, "GSI for a customer's orders by timestamp"),
                ("OrderQueueUrl", self.queue.queue_url, "URL of the order queue"),
                ("OrderQueueArn", self.queue.queue_arn, "ARN of the order queue"),
                ("DLQUrl", self.dlq.queue_url, "URL of the order dead-letter queue"),
                ("DLQArn", self.dlq.queue_arn, "ARN of the order dead-letter queue"),
                ("OrderTopicArn", self.order_topic.topic_arn, "SNS topic announcing processed orders"),
                ("OrderProcessorFunctionName", self.processor.function_name, "Order processor function name"),
                ("OrderProcessorFunctionArn", self.processor.function_arn, "Order processor function ARN"),
                ("ApiHandlerFunctionName", self.api_handler.function_name, "API handler function name"),
                ("ApiHandlerFunctionArn", self.api_handler.function_arn, "API handler function ARN"),
            ]
            if self.alarm_topic is not None:
                outputs.append(("AlarmTopicArn", self.alarm_topic.topic_arn, "SNS topic every alarm notifies"))
            if self.web_acl is not None:
                outputs.append(("WebAclArn", self.web_acl.attr_arn, "WAF WebACL protecting the API stage"))
        add_outputs(self, outputs, export_prefix=EXPORT_PREFIX, environment_suffix=self.environment_suffix)
