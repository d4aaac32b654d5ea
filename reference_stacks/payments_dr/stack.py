"""Multi-region DR payments (seed 002_8ae9ac350be0ce4b), ``ideal`` and ``baseline``.

The seed's 15 items and how each variant covers them:

1. DynamoDB global table. ideal: ``TableV2`` ``payments-<sfx>`` (AWS::DynamoDB::GlobalTable,
   no custom-resource Lambda), transaction_id (S) / timestamp (N), on-demand, PITR, stream
   NEW_AND_OLD_IMAGES, SSE with the AWS-managed KMS key, replica in ``replica_region``
   (us-east-2), GSI ``customer-index``.
   The stack is pinned to ``primary_region`` (context, default us-east-1): replicas need a
   concrete region. baseline: plain ``Table`` with the partition key only, CDK defaults.
2. Functions. ideal: validator (512 MB, 30 s), processor (1024 MB, 60 s), both 2 async
   retries; failover orchestrator (256 MB, 60 s); real handlers in ``handlers/``. baseline:
   one function ``payment-processor-<sfx>`` with the seed's inline stub.
3. API. ideal: ``payment-api-<sfx>``, stage prod, throttling 1000/2000, INFO logging, data
   trace, metrics, tracing, CloudWatch role, POST /validate and POST /process (Lambda, body
   validated against a model), GET /health (mock ``{"status":"healthy"}``), WAF. baseline:
   the bare RestApi; CDK refuses an API without methods, so it gets one root ``ANY`` mock
   method (no Lambda integration, no endpoint of the payment flow).
4. SQS. ideal: ``payment-queue-<sfx>`` + DLQ ``payment-dlq-<sfx>`` (14 days, maxReceiveCount 3),
   SQS-managed encryption, validator sends, processor consumes (SQS event source with
   partial batch failures). Visibility timeout: the seed says 300 s, but the processor's
   timeout is 60 s and the rule "visibility >= 6x the consumer's timeout" needs 360 s; the
   rule wins (``QUEUE_VISIBILITY``). baseline: the queue with its name only.
5. IAM. ideal: one role ``payment-lambda-role-<sfx>`` with explicit statements (DynamoDB on
   the table and ``index/*``, SQS, SNS, KMS for the encrypted topics, logs on the three log
   groups instead of the AWSLambdaBasicExecutionRole managed policy). baseline: CDK's default role.
6. SNS. ideal: ops alert topic (failover orchestrator subscribed, subscription DLQ, on-failure
   destination for the async invoke) and transaction topic, both KMS-encrypted (rotating key
   CloudWatch may use) and SSL-only. The orchestrator's coordination messages go to the
   transaction topic (``event_type`` attribute), never back to the ops topic. baseline: none.
7. Dashboard ``payment-dr-<sfx>`` with 4 widgets (API, Lambda, DynamoDB, SQS). baseline: none.
8. Alarms on the ops topic: the seed's four (API 5XX >= 10, Lambda errors >= 5 per function,
   DynamoDB throttles >= 10 as read and write throttle events, DLQ messages > 0) plus the
   production rules' (see ``monitoring.py``); context ``enable_alarms=false`` drops them.
   baseline: none.
9. Log groups with retention and DESTROY: API access logs ``/aws/apigateway/payment-api-<sfx>``
   (one week) and ``/aws/lambda/<function>``. baseline: implicit never-expiring groups.
10. Outputs: the seed's 13 plus what an operator or a probe needs, all with description and
   export name. baseline: only the endpoint output CDK adds by itself (no description, no export).
11. Props class: :class:`PaymentsDrProps` (from context or passed as ``props=``). baseline: same class.
12. Documentation: docstrings here and in the handlers. baseline: same code, nothing to omit.
13. Function configuration: timeouts, memory, retries, environment variables. baseline: none.
14. Removal policies: DESTROY on table, queues, key and log groups. baseline: CDK defaults
   (the table is retained).
15. Health endpoint GET /health for Route 53 health checks. baseline: none.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from reference_stacks.common import (
    acknowledge_async_failures,
    acknowledge_index_grant,
    acknowledge_key_grant,
    acknowledge_public_method,
    acknowledge_sqs_consumer,
    acknowledge_synchronous_only,
    ReferenceStack,
    Variant,
    add_outputs,
    alarm_notification_key,
    common_rule_set_rule,
    context_flag,
    dead_letter_queue,
    encrypted_topic,
    expiring_log_group,
    handler_code,
    json_access_log_format,
    named,
    python_function,
    rate_limit_rule,
    regional_web_acl,
)
from reference_stacks.payments_dr.monitoring import build_dashboard, build_alarms

HANDLERS_DIR = Path(__file__).resolve().parent / "handlers"
EXPORT_PREFIX = "payments"
METRICS_NAMESPACE = "PaymentsDR"
FRAUD_THRESHOLD = "10000"
PROCESSOR_TIMEOUT = cdk.Duration.seconds(60)
# The queue consumer's ceiling: a payment burst cannot starve the account's other functions.
PROCESSOR_RESERVED_CONCURRENCY = 50
# 6x the processor's timeout (the seed's 300 s would let a slow batch become visible again mid-run).
QUEUE_VISIBILITY = cdk.Duration.seconds(360)
LOG_RETENTION = logs.RetentionDays.ONE_WEEK
BASELINE_STUB = "def handler(event, context): return {'statusCode': 200}"

PAYMENT_SCHEMA = apigateway.JsonSchema(
    schema=apigateway.JsonSchemaVersion.DRAFT4,
    title="Payment",
    type=apigateway.JsonSchemaType.OBJECT,
    required=["customer_id", "amount", "currency"],
    properties={
        "transaction_id": apigateway.JsonSchema(type=apigateway.JsonSchemaType.STRING, min_length=1, max_length=64),
        "customer_id": apigateway.JsonSchema(type=apigateway.JsonSchemaType.STRING, min_length=1, max_length=64),
        "amount": apigateway.JsonSchema(type=apigateway.JsonSchemaType.NUMBER, exclusive_minimum=True, minimum=0),
        "currency": apigateway.JsonSchema(type=apigateway.JsonSchemaType.STRING, pattern="^[A-Z]{3}$"),
        "timestamp": apigateway.JsonSchema(type=apigateway.JsonSchemaType.INTEGER, minimum=1),
        "description": apigateway.JsonSchema(type=apigateway.JsonSchemaType.STRING, max_length=256),
    },
)


@dataclass(frozen=True)
class PaymentsDrProps:
    """Settings of the stack (the seed's ``TapStackProps``); context keys of the same names."""

    primary_region: str = "us-east-1"
    replica_region: str = "us-east-2"
    enable_alarms: bool = True
    enable_waf: bool = True

    @classmethod
    def from_context(cls, scope: Construct) -> "PaymentsDrProps":
        """Read ``primary_region``, ``replica_region``, ``enable_alarms`` and ``enable_waf``."""
        defaults = cls()
        return cls(
            primary_region=str(scope.node.try_get_context("primary_region") or defaults.primary_region),
            replica_region=str(scope.node.try_get_context("replica_region") or defaults.replica_region),
            enable_alarms=context_flag(scope, "enable_alarms", defaults.enable_alarms),
            enable_waf=context_flag(scope, "enable_waf", defaults.enable_waf),
        )

    def __post_init__(self) -> None:
        if self.primary_region == self.replica_region:
            raise ValueError(
                f"replica_region must differ from primary_region (both {self.primary_region!r})"
            )


class PaymentsDrStack(ReferenceStack):
    """Payments with a DynamoDB global table, three functions, a queue, an API and failover alerts."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        variant: Variant,
        props: PaymentsDrProps | None = None,
        **kwargs,
    ) -> None:
        self.props = props or PaymentsDrProps.from_context(scope)
        if Variant(variant) is Variant.IDEAL:
            # Global-table replicas need a concrete stack region; the account can stay unresolved.
            kwargs.setdefault("env", cdk.Environment(region=self.props.primary_region))
        super().__init__(scope, construct_id, variant=variant, **kwargs)

        self.table = self._table()
        self.payment_dlq, self.payment_queue = self._queues()
        self.key, self.ops_topic, self.transaction_topic = self._topics()
        self.role = self._role()
        self.functions = self._functions()
        self.api = self._api()
        if self.ideal:
            self.dashboard = build_dashboard(self)
            self.alarms = build_alarms(self) if self.props.enable_alarms else []
            self._outputs()

    def name(self, base: str) -> str:
        return named(base, self.environment_suffix)

    # --- data -------------------------------------------------------------------------------

    def _table(self) -> dynamodb.ITable:
        if not self.ideal:
            return dynamodb.Table(
                self,
                "PaymentsTable",
                table_name=self.name("payments"),
                partition_key=dynamodb.Attribute(name="transaction_id", type=dynamodb.AttributeType.STRING),
            )
        return dynamodb.TableV2(
            self,
            "PaymentsTable",
            table_name=self.name("payments"),
            partition_key=dynamodb.Attribute(name="transaction_id", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="timestamp", type=dynamodb.AttributeType.NUMBER),
            billing=dynamodb.Billing.on_demand(),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            dynamo_stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            # AWS-managed KMS works in every replica region without per-region key ARNs.
            encryption=dynamodb.TableEncryptionV2.aws_managed_key(),
            replicas=[dynamodb.ReplicaTableProps(region=self.props.replica_region)],
            global_secondary_indexes=[
                dynamodb.GlobalSecondaryIndexPropsV2(
                    index_name="customer-index",
                    partition_key=dynamodb.Attribute(name="customer_id", type=dynamodb.AttributeType.STRING),
                    sort_key=dynamodb.Attribute(name="timestamp", type=dynamodb.AttributeType.NUMBER),
                )
            ],
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )

    def _dlq(self, construct_id: str, base: str, dead_letter_of: str) -> sqs.Queue:
        return dead_letter_queue(self, construct_id, queue_name=self.name(base), dead_letter_of=dead_letter_of)

    def _queues(self) -> tuple[sqs.Queue | None, sqs.Queue]:
        if not self.ideal:
            return None, sqs.Queue(self, "PaymentQueue", queue_name=self.name("payment-queue"))
        dlq = self._dlq("PaymentDLQ", "payment-dlq", "the payment queue")
        queue = sqs.Queue(
            self,
            "PaymentQueue",
            queue_name=self.name("payment-queue"),
            visibility_timeout=QUEUE_VISIBILITY,
            retention_period=cdk.Duration.days(4),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=3),
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        return dlq, queue

    # --- notifications ------------------------------------------------------------------------

    def _topics(self) -> tuple[kms.Key | None, sns.Topic | None, sns.Topic | None]:
        if not self.ideal:
            return None, None, None
        # Alarm actions publish as CloudWatch: the key lets it use the ops alert topic.
        key = alarm_notification_key(
            self,
            "TopicKey",
            alias=f"alias/{self.name('payment-topics')}",
            description="Encrypts the payments ops alert and transaction topics",
            pending_window=None,
        )
        ops = encrypted_topic(
            self,
            "OpsAlertTopic",
            topic_name=self.name("payment-ops-alerts"),
            display_name="Payments DR operational alerts",
            key=key,
        )
        transactions = encrypted_topic(
            self,
            "TransactionTopic",
            topic_name=self.name("payment-transactions"),
            display_name="Payments processed and failover coordination",
            key=key,
        )
        return key, ops, transactions

    # --- compute ------------------------------------------------------------------------------

    def _role(self) -> iam.Role | None:
        if not self.ideal:
            return None
        role = iam.Role(
            self,
            "LambdaExecutionRole",
            role_name=self.name("payment-lambda-role"),
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Payments DR functions: scoped DynamoDB, SQS, SNS, KMS and log access",
        )
        queue_arn = self.payment_queue.queue_arn
        for sid, actions, resources in (
            (
                "PaymentsTable",
                ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"],
                [self.table.table_arn, f"{self.table.table_arn}/index/*"],
            ),
            ("PaymentQueueSend", ["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"], [queue_arn]),
            (
                "PaymentQueueConsume",
                ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"],
                [queue_arn],
            ),
            ("TransactionTopicPublish", ["sns:Publish"], [self.transaction_topic.topic_arn]),
            ("TopicKeyUse", ["kms:Decrypt", "kms:GenerateDataKey*"], [self.key.key_arn]),
        ):
            role.add_to_policy(iam.PolicyStatement(sid=sid, actions=actions, resources=resources))
        acknowledge_index_grant(role, self.table, "the processor queries payments by customer on customer-index")
        acknowledge_key_grant(role, "publish to the KMS-encrypted transaction topic")
        return role

    def _functions(self) -> dict[str, lambda_.Function]:
        if not self.ideal:
            # The seed's first version: one generic function with a stub, nothing configured.
            return {
                "processor": python_function(
                    self,
                    "PaymentFunction",
                    code=lambda_.Code.from_inline(BASELINE_STUB),
                    handler="index.handler",
                    function_name=self.name("payment-processor"),
                )
            }
        code = handler_code(HANDLERS_DIR)
        common_env = {
            "METRICS_NAMESPACE": METRICS_NAMESPACE,
            "ENVIRONMENT_SUFFIX": self.environment_suffix,
        }

        def function(construct_id: str, base: str, handler: str, memory: int, timeout: int,
                     environment: dict[str, str], retries: int | None, description: str,
                     reserved_concurrency: int | None = None) -> lambda_.Function:
            return python_function(
                self,
                construct_id,
                code=code,
                handler=handler,
                function_name=self.name(base),
                timeout=cdk.Duration.seconds(timeout),
                memory_size=memory,
                environment={**common_env, **environment},
                tracing=True,
                log_retention=LOG_RETENTION,
                role=self.role,
                retry_attempts=retries,
                description=description,
                reserved_concurrent_executions=reserved_concurrency,
            )

        validator = function(
            "PaymentValidator", "payment-validator", "validator.handler", 512, 30,
            {"PAYMENT_QUEUE_URL": self.payment_queue.queue_url, "FRAUD_THRESHOLD": FRAUD_THRESHOLD},
            2, "Validates payments, flags fraud (> 10,000) and queues them",
        )
        processor = function(
            "PaymentProcessor", "payment-processor", "processor.handler", 1024,
            int(PROCESSOR_TIMEOUT.to_seconds()),
            {
                "TABLE_NAME": self.table.table_name,
                "TRANSACTION_TOPIC_ARN": self.transaction_topic.topic_arn,
                "FRAUD_THRESHOLD": FRAUD_THRESHOLD,
            },
            2, "Stores payments in the global table and publishes them",
            reserved_concurrency=PROCESSOR_RESERVED_CONCURRENCY,
        )
        # Async retries are configured with the on-failure destination below.
        failover = function(
            "FailoverOrchestrator", "failover-orchestrator", "failover.handler", 256, 60,
            {
                "COORDINATION_TOPIC_ARN": self.transaction_topic.topic_arn,
                "PRIMARY_REGION": self.props.primary_region,
                "REPLICA_REGION": self.props.replica_region,
                "TABLE_NAME": self.table.table_name,
            },
            None, "Turns CloudWatch alarm notifications into failover coordination messages",
        )
        # Logs go only to the functions' own groups (replaces AWSLambdaBasicExecutionRole).
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="FunctionLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[fn.log_group.log_group_arn for fn in (validator, processor, failover)],
            )
        )

        processor.add_event_source(
            event_sources.SqsEventSource(
                self.payment_queue,
                batch_size=10,
                max_batching_window=cdk.Duration.seconds(5),
                report_batch_item_failures=True,
            )
        )
        acknowledge_synchronous_only(validator, "by API Gateway's Lambda proxy integration on POST /validate")
        acknowledge_synchronous_only(
            processor, "by API Gateway on POST /process and by its SQS event source mapping on the payment queue"
        )
        acknowledge_sqs_consumer(processor, "the payment queue")
        self.failover_destination_dlq = self._dlq(
            "FailoverDestinationDLQ",
            "failover-destination-dlq",
            "the failover orchestrator's asynchronous invocations (its on-failure destination)",
        )
        failover.configure_async_invoke(
            retry_attempts=2,
            max_event_age=cdk.Duration.hours(6),
            on_failure=destinations.SqsDestination(self.failover_destination_dlq),
        )
        acknowledge_async_failures(failover, "failover-destination-dlq")
        self.failover_subscription_dlq = self._dlq(
            "FailoverSubscriptionDLQ",
            "failover-subscription-dlq",
            "the ops topic's subscription of the failover orchestrator (messages SNS cannot deliver)",
        )
        self.ops_topic.add_subscription(
            subscriptions.LambdaSubscription(failover, dead_letter_queue=self.failover_subscription_dlq)
        )
        return {"validator": validator, "processor": processor, "failover": failover}

    # --- API ----------------------------------------------------------------------------------

    def _api(self) -> apigateway.RestApi:
        if not self.ideal:
            api = apigateway.RestApi(self, "PaymentAPI", rest_api_name=self.name("payment-api"))
            # CDK rejects a RestApi without methods; a root mock keeps it free of payment endpoints.
            api.root.add_method("ANY")
            return api
        self.api_log_group = expiring_log_group(
            self, "APIGatewayLogs", log_group_name=f"/aws/apigateway/{self.name('payment-api')}", retention=LOG_RETENTION
        )
        api = apigateway.RestApi(
            self,
            "PaymentAPI",
            rest_api_name=self.name("payment-api"),
            description=f"Payment Processing API - {self.environment_suffix}",
            deploy_options=apigateway.StageOptions(
                stage_name="prod",
                throttling_rate_limit=1000,
                throttling_burst_limit=2000,
                logging_level=apigateway.MethodLoggingLevel.INFO,
                data_trace_enabled=True,
                metrics_enabled=True,
                tracing_enabled=True,
                access_log_destination=apigateway.LogGroupLogDestination(self.api_log_group),
                access_log_format=json_access_log_format(),
            ),
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        # Our own APIEndpoint output (with description and export) replaces CDK's bare one.
        api.node.try_remove_child("Endpoint")

        model = api.add_model(
            "PaymentModel", content_type="application/json", model_name="Payment", schema=PAYMENT_SCHEMA
        )
        validator = api.add_request_validator(
            "PaymentRequestValidator",
            request_validator_name=self.name("payment-body-validator"),
            validate_request_body=True,
            # No parameter is required today; any declared later is enforced at the edge.
            validate_request_parameters=True,
        )
        for path, function in (("validate", self.functions["validator"]), ("process", self.functions["processor"])):
            method = api.root.add_resource(path).add_method(
                "POST",
                apigateway.LambdaIntegration(function, allow_test_invoke=False),
                request_validator=validator,
                request_models={"application/json": model},
            )
            acknowledge_public_method(
                method,
                f"POST /{path} is the payment API as specified by seed 002, which defines no caller "
                "authentication; payments are schema-validated at the edge and in the function, throttled and "
                "behind the WAF web ACL. Add an IAM or Cognito authorizer when the calling services are known",
            )

        health = api.root.add_resource("health").add_method(
            "GET",
            apigateway.MockIntegration(
                request_templates={"application/json": '{"statusCode": 200}'},
                integration_responses=[
                    apigateway.IntegrationResponse(
                        status_code="200",
                        response_templates={"application/json": '{"status":"healthy"}'},
                    )
                ],
            ),
            method_responses=[apigateway.MethodResponse(status_code="200")],
        )
        acknowledge_public_method(
            health,
            "GET /health is open by design (seed 002 item 15): Route 53 health checks cannot sign requests; it is a "
            "mock integration that returns a constant, with no function or data behind it",
        )
        if self.props.enable_waf:
            self.web_acl = self._web_acl(api)
        return api

    def _web_acl(self, api: apigateway.RestApi) -> wafv2.CfnWebACL:
        return regional_web_acl(
            self,
            "PaymentApiWebAcl",
            name=self.name("payment-api-waf"),
            stage=api.deployment_stage,
            rules=[
                common_rule_set_rule(priority=0, metric_name="common-rule-set"),
                rate_limit_rule(priority=1, metric_name="rate-limit-per-ip", limit=2000),
            ],
        )

    # --- outputs ------------------------------------------------------------------------------

    def _outputs(self) -> None:
        functions = self.functions
        outputs: list[tuple[str, str, str]] = [
            ("PaymentsTableName", self.table.table_name, "Payments global table name"),
            ("PaymentsTableArn", self.table.table_arn, "Payments global table ARN (primary region)"),
            ("PaymentsTableStreamArn", self.table.table_stream_arn, "Payments table stream ARN"),
            ("ReplicaRegion", self.props.replica_region, "Region of the payments table replica"),
            ("PaymentValidatorArn", functions["validator"].function_arn, "Payment validator function ARN"),
            ("PaymentValidatorName", functions["validator"].function_name, "Payment validator function name"),
            ("PaymentProcessorArn", functions["processor"].function_arn, "Payment processor function ARN"),
            ("PaymentProcessorName", functions["processor"].function_name, "Payment processor function name"),
            ("FailoverOrchestratorArn", functions["failover"].function_arn, "Failover orchestrator function ARN"),
            ("FailoverOrchestratorName", functions["failover"].function_name,
             "Failover orchestrator function name"),
            ("PaymentQueueUrl", self.payment_queue.queue_url, "Payment queue URL"),
            ("PaymentQueueArn", self.payment_queue.queue_arn, "Payment queue ARN"),
            ("PaymentDLQUrl", self.payment_dlq.queue_url, "Payment dead-letter queue URL"),
            ("PaymentDLQArn", self.payment_dlq.queue_arn, "Payment dead-letter queue ARN"),
            ("FailoverSubscriptionDLQUrl", self.failover_subscription_dlq.queue_url,
             "DLQ of the ops topic's subscription of the failover orchestrator"),
            ("FailoverDestinationDLQUrl", self.failover_destination_dlq.queue_url,
             "On-failure destination of the failover orchestrator's async invocations"),
            ("APIEndpoint", self.api.url, "Payment API endpoint (stage prod)"),
            ("APIId", self.api.rest_api_id, "Payment API id"),
            ("HealthCheckUrl", self.api.url_for_path("/health"), "Health check URL for Route 53"),
            ("OpsAlertTopicArn", self.ops_topic.topic_arn, "Ops alert topic ARN (all alarms notify it)"),
            ("TransactionTopicArn", self.transaction_topic.topic_arn,
             "Transaction topic ARN (processed payments and failover coordination)"),
            ("LambdaRoleArn", self.role.role_arn, "Execution role of the payment functions"),
            ("DashboardName", self.dashboard.dashboard_name, "CloudWatch dashboard name"),
            ("Region", self.region, "Primary region of the stack"),
        ]
        if self.props.enable_waf:
            outputs.append(("WebAclArn", self.web_acl.attr_arn, "WAF web ACL protecting the payment API"))
        add_outputs(self, outputs, export_prefix=EXPORT_PREFIX, environment_suffix=self.environment_suffix)
