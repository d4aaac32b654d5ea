"""Webhook pipeline (seed 000): API Gateway -> receiver -> SQS -> processor -> SQS -> notifier.

``POST /webhooks/{provider}`` reaches the receiver, which validates the payload (400 on bad
input) and routes it to the priority or the standard queue; the processor consumes both and
sends notifications to the notification queue; the notifier publishes them to EventBridge.
Three functions, three main queues, each with its own DLQ and event source mapping.

Seed items and where each variant covers them:

- Kept from the first version (both variants): DLQs for all three queues (maxReceiveCount 3,
  14-day retention), SQS event source mappings (partial batch failures), least-privilege IAM
  (``grant_*`` only), queue URLs in environment variables, log groups with retention,
  environment-suffix names.
- 24 CloudWatch alarms (ideal, unless context ``enable_alarms=false``; baseline: none), in
  ``monitoring.py``: per function error rate > 5 % (metric math errors/invocations), throttles
  > 0, duration > 80 % of the timeout, concurrent executions > 90 (reserved 100); per main queue
  age of oldest message > 300 s and depth > 100; per DLQ visible messages > 0; API 4xx > 10 %,
  5xx > 1 % (metric math over Count) and p99 latency > 1000 ms.
- One SNS alarm topic that every alarm notifies, email subscription from context
  ``alarm_email`` (ideal with alarms; baseline: no topic).
- X-Ray: active tracing on all functions (CDK adds the xray:Put* permissions to their roles)
  and on the API stage (ideal, unless context ``enable_xray=false``; baseline: none).
- Production rules where the seed is silent (both variants, so the variants differ only in the
  seed's gaps): encrypted queues with TLS-only policies, visibility timeout 6x the consumer's
  timeout, stage access logs, method logging/metrics and throttling, a request validator, a
  regional WAF web ACL on the stage, explicit timeout/memory, DESTROY removal policies, outputs.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from reference_stacks.common import (
    ReferenceStack,
    acknowledge_public_method,
    acknowledge_sqs_consumer,
    acknowledge_synchronous_only,
    add_outputs,
    alarm_email,
    common_rule_set_rule,
    context_flag,
    dead_letter_queue,
    expiring_log_group,
    handler_code,
    json_access_log_format,
    named,
    python_function,
    rate_limit_rule,
    regional_web_acl,
)
from reference_stacks.webhook_pipeline import monitoring

EXPORT_PREFIX = "webhook"
METRICS_NAMESPACE = "WebhookPipeline"
STAGE_NAME = "v1"
RESERVED_CONCURRENCY = 100
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
MAX_RECEIVE_COUNT = 3
RECEIVER_TIMEOUT = cdk.Duration.seconds(10)
CONSUMER_TIMEOUT = cdk.Duration.seconds(30)


class WebhookPipelineStack(ReferenceStack):
    """The webhook pipeline in its ``ideal`` or ``baseline`` variant."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        suffix = self.environment_suffix
        ideal = self.ideal
        # The baseline predates these settings: it has no alarms and no tracing whatever the context says.
        self.alarms_enabled = ideal and context_flag(self, "enable_alarms", True)
        self.xray_enabled = ideal and context_flag(self, "enable_xray", True)
        email = alarm_email(self) if ideal else None

        # Queues: priority and standard webhooks (-> processor), notifications (-> notifier).
        self.queues = {
            key: self._queue_with_dlq(key, CONSUMER_TIMEOUT)
            for key in ("priority", "standard", "notification")
        }

        code = handler_code(Path(__file__).parent / "handlers")
        self.receiver = self._function(
            "Receiver",
            code,
            timeout=RECEIVER_TIMEOUT,
            memory_size=256,
            description="Validates webhooks from API Gateway and enqueues them",
            environment={
                "PRIORITY_QUEUE_URL": self.queues["priority"][0].queue_url,
                "STANDARD_QUEUE_URL": self.queues["standard"][0].queue_url,
            },
        )
        self.processor = self._function(
            "Processor",
            code,
            timeout=CONSUMER_TIMEOUT,
            memory_size=512,
            description="Normalizes queued webhooks into notifications",
            environment={"NOTIFICATION_QUEUE_URL": self.queues["notification"][0].queue_url},
        )
        self.notifier = self._function(
            "Notifier",
            code,
            timeout=CONSUMER_TIMEOUT,
            memory_size=256,
            description="Publishes webhook notifications to EventBridge",
            environment={"EVENT_BUS_NAME": "default", "EVENT_SOURCE": f"webhook-pipeline.{suffix}"},
        )

        self.queues["priority"][0].grant_send_messages(self.receiver)
        self.queues["standard"][0].grant_send_messages(self.receiver)
        self.queues["notification"][0].grant_send_messages(self.processor)
        events.EventBus.from_event_bus_name(self, "DefaultBus", "default").grant_put_events_to(self.notifier)

        # Priority webhooks wait at most 1 s for a batch; the others trade latency for fewer invocations.
        for key, consumer, batch_size, window_s in (
            ("priority", self.processor, 5, 1),
            ("standard", self.processor, 10, 5),
            ("notification", self.notifier, 10, 2),
        ):
            consumer.add_event_source(
                event_sources.SqsEventSource(
                    self.queues[key][0],
                    batch_size=batch_size,
                    max_batching_window=cdk.Duration.seconds(window_s),
                    report_batch_item_failures=True,
                )
            )

        acknowledge_synchronous_only(self.receiver, "by API Gateway's Lambda proxy integration")
        for consumer, queues in ((self.processor, "priority and standard queues"), (self.notifier, "notification queue")):
            acknowledge_synchronous_only(consumer, f"by its SQS event source mappings on the {queues}")
            acknowledge_sqs_consumer(consumer, f"the {queues}")

        self.api = self._api()
        self.web_acl = self._web_acl()
        self.alarm_topic = None
        self.alarms = []
        if self.alarms_enabled:
            self._alarms(email)
        self._outputs()

    # -- building blocks ---------------------------------------------------------------------

    def _queue_with_dlq(self, key: str, consumer_timeout: cdk.Duration) -> tuple[sqs.Queue, sqs.Queue]:
        title, suffix = key.capitalize(), self.environment_suffix
        dlq = dead_letter_queue(
            self, f"{title}Dlq", queue_name=named(f"webhook-{key}-dlq", suffix), dead_letter_of=f"the {key} queue"
        )
        queue = sqs.Queue(
            self,
            f"{title}Queue",
            queue_name=named(f"webhook-{key}", suffix),
            # AWS's guidance for Lambda consumers: 6x the function timeout, so retries do not overlap.
            visibility_timeout=cdk.Duration.seconds(consumer_timeout.to_seconds() * 6),
            retention_period=cdk.Duration.days(4),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=MAX_RECEIVE_COUNT, queue=dlq),
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        return queue, dlq

    def _function(self, title: str, code, *, timeout, memory_size, description, environment):
        return python_function(
            self,
            title,
            code=code,
            handler=f"{title.lower()}.handler",
            function_name=named(f"webhook-{title.lower()}", self.environment_suffix),
            timeout=timeout,
            memory_size=memory_size,
            environment={**environment, "METRICS_NAMESPACE": METRICS_NAMESPACE},
            tracing=self.xray_enabled,
            log_retention=LOG_RETENTION,
            reserved_concurrent_executions=RESERVED_CONCURRENCY,
            description=description,
        )

    def _api(self) -> apigateway.RestApi:
        suffix = self.environment_suffix
        access_logs = expiring_log_group(
            self,
            "ApiAccessLogs",
            log_group_name=named("/aws/apigateway/webhook-api-access", suffix),
            retention=LOG_RETENTION,
        )
        api = apigateway.RestApi(
            self,
            "WebhookApi",
            rest_api_name=named("webhook-api", suffix),
            description="Receives provider webhooks: POST /webhooks/{provider}",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            # The account-level role API Gateway needs to write execution logs.
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=cdk.RemovalPolicy.DESTROY,
            deploy_options=apigateway.StageOptions(
                stage_name=STAGE_NAME,
                tracing_enabled=self.xray_enabled,
                logging_level=apigateway.MethodLoggingLevel.INFO,
                data_trace_enabled=False,
                metrics_enabled=True,
                throttling_rate_limit=100,
                throttling_burst_limit=200,
                access_log_destination=apigateway.LogGroupLogDestination(access_logs),
                access_log_format=json_access_log_format(identity=False),
            ),
        )
        # Shape checks at the edge spare a Lambda invocation; the receiver still validates in depth.
        model = api.add_model(
            "WebhookPayloadModel",
            content_type="application/json",
            schema=apigateway.JsonSchema(
                schema=apigateway.JsonSchemaVersion.DRAFT4,
                title="WebhookPayload",
                type=apigateway.JsonSchemaType.OBJECT,
                required=["id", "type", "data"],
                properties={
                    "id": apigateway.JsonSchema(type=apigateway.JsonSchemaType.STRING),
                    "type": apigateway.JsonSchema(type=apigateway.JsonSchemaType.STRING),
                    "data": apigateway.JsonSchema(type=apigateway.JsonSchemaType.OBJECT),
                },
            ),
        )
        validator = api.add_request_validator(
            "WebhookRequestValidator",
            validate_request_body=True,
            validate_request_parameters=True,
        )
        provider = api.root.add_resource("webhooks").add_resource("{provider}")
        method = provider.add_method(
            "POST",
            apigateway.LambdaIntegration(self.receiver),
            request_validator=validator,
            request_models={"application/json": model},
            request_parameters={"method.request.path.provider": True},
        )
        acknowledge_public_method(
            method,
            "provider webhook endpoint (seed 000): third-party providers call it and cannot sign AWS requests or "
            "present Cognito tokens, and the seed defines no caller authentication; requests are schema-validated, "
            "throttled and behind the WAF web ACL. Verify each provider's signature in the receiver once its "
            "signing secret is known",
        )
        # The RestApi's own Endpoint output has no description or export; ApiUrl replaces it.
        api.node.try_remove_child("Endpoint")
        self.api_access_logs = access_logs
        return api

    def _web_acl(self) -> wafv2.CfnWebACL:
        return regional_web_acl(
            self,
            "WebhookApiWebAcl",
            name=named("webhook-api-waf", self.environment_suffix),
            stage=self.api.deployment_stage,
            rules=[
                # Provider payloads (e.g. a GitHub push) exceed the rule's 8 KB body limit;
                # the receiver enforces its own size limit instead.
                common_rule_set_rule(
                    priority=0, metric_name="webhook-common-rule-set", count_rules=["SizeRestrictions_BODY"]
                ),
                rate_limit_rule(priority=1, metric_name="webhook-rate-limit", limit=2000),
            ],
        )

    def _alarms(self, alarm_email: str | None) -> None:
        suffix = self.environment_suffix
        self.alarm_topic = topic = monitoring.alarm_topic(self, environment_suffix=suffix, email=alarm_email)
        for key, fn, timeout in (
            ("receiver", self.receiver, RECEIVER_TIMEOUT),
            ("processor", self.processor, CONSUMER_TIMEOUT),
            ("notifier", self.notifier, CONSUMER_TIMEOUT),
        ):
            self.alarms += monitoring.function_alarms(
                self, monitoring.MonitoredFunction(key, fn, timeout), topic=topic, environment_suffix=suffix
            )
        for key, (queue, dlq) in self.queues.items():
            self.alarms += monitoring.queue_alarms(
                self, monitoring.MonitoredQueue(key, queue, dlq), topic=topic, environment_suffix=suffix
            )
        self.alarms += monitoring.api_alarms(
            self, self.api.deployment_stage, topic=topic, environment_suffix=suffix
        )

    def _outputs(self) -> None:
        api = self.api
        outputs = [
            ("ApiId", api.rest_api_id, "REST API id"),
            ("ApiStageName", api.deployment_stage.stage_name, "REST API stage name"),
            ("ApiUrl", api.url, "Base URL of the REST API stage"),
            (
                "WebhookEndpoint",
                api.url_for_path("/webhooks/{provider}"),
                "POST webhooks here, with {provider} one of generic, github, shopify, stripe",
            ),
            ("ApiAccessLogGroupName", self.api_access_logs.log_group_name, "API access log group"),
            ("WebAclArn", self.web_acl.attr_arn, "WAF web ACL protecting the API stage"),
        ]
        for key, (queue, dlq) in self.queues.items():
            title = key.capitalize()
            outputs += [
                (f"{title}QueueUrl", queue.queue_url, f"URL of the {key} queue"),
                (f"{title}QueueArn", queue.queue_arn, f"ARN of the {key} queue"),
                (f"{title}DlqUrl", dlq.queue_url, f"URL of the {key} queue's dead-letter queue"),
                (f"{title}DlqArn", dlq.queue_arn, f"ARN of the {key} queue's dead-letter queue"),
            ]
        for title, fn in (("Receiver", self.receiver), ("Processor", self.processor), ("Notifier", self.notifier)):
            outputs += [
                (f"{title}FunctionName", fn.function_name, f"Name of the {title.lower()} function"),
                (f"{title}FunctionArn", fn.function_arn, f"ARN of the {title.lower()} function"),
            ]
        if self.alarm_topic is not None:
            outputs.append(("AlarmTopicArn", self.alarm_topic.topic_arn, "SNS topic every alarm notifies"))
        add_outputs(self, outputs, export_prefix=EXPORT_PREFIX, environment_suffix=self.environment_suffix)
