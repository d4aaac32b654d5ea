"""The order API: ``POST /orders`` on a REST API, and (ideal) its edge protection and logging."""

from __future__ import annotations

from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from reference_stacks.common import (
    acknowledge_public_method,
    common_rule_set_rule,
    expiring_log_group,
    json_access_log_format,
    named,
    rate_limit_rule,
    regional_web_acl,
)

STAGE_NAME = "prod"
THROTTLE_RATE_LIMIT = 500
THROTTLE_BURST_LIMIT = 1000
WAF_RATE_LIMIT_PER_IP = 2000  # requests per 5 minutes from one address

# The edge model: presence and basic types only; the API handler enforces the business rules.
ORDER_SCHEMA = apigw.JsonSchema(
    schema=apigw.JsonSchemaVersion.DRAFT4,
    title="Order",
    type=apigw.JsonSchemaType.OBJECT,
    required=["orderId", "customerId", "items"],
    properties={
        "orderId": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, min_length=1, max_length=64),
        "customerId": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, min_length=1, max_length=64),
        "items": apigw.JsonSchema(
            type=apigw.JsonSchemaType.ARRAY,
            min_items=1,
            max_items=100,
            items=apigw.JsonSchema(
                type=apigw.JsonSchemaType.OBJECT,
                required=["productId", "quantity", "price"],
                properties={
                    "productId": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, min_length=1),
                    "quantity": apigw.JsonSchema(type=apigw.JsonSchemaType.INTEGER, minimum=1),
                    "price": apigw.JsonSchema(type=apigw.JsonSchemaType.NUMBER, minimum=0),
                },
            ),
        ),
    },
)


def baseline_api(scope: Construct, *, environment_suffix: str, target: lambda_.IFunction) -> apigw.RestApi:
    """The first version: default stage, no validation, the order processor invoked directly."""
    api = apigw.RestApi(
        scope,
        "OrderApi",
        rest_api_name=named("order-api", environment_suffix),
        description="Order pipeline API (baseline)",
        # Nothing on the stage logs, so no account-level CloudWatch role is needed.
        cloud_watch_role=False,
    )
    _drop_default_endpoint_output(api)
    api.root.add_resource("orders").add_method("POST", apigw.LambdaIntegration(target))
    return api


def ideal_api(
    scope: Construct, *, environment_suffix: str, target: lambda_.IFunction, enable_waf: bool
) -> tuple[apigw.RestApi, wafv2.CfnWebACL | None]:
    """The production API: validated POST, logged/traced/throttled stage, WAF in front."""
    access_logs = expiring_log_group(
        scope,
        "OrderApiAccessLogs",
        log_group_name=named("/aws/apigateway/order-api-access", environment_suffix),
        retention=logs.RetentionDays.ONE_WEEK,
    )
    api = apigw.RestApi(
        scope,
        "OrderApi",
        rest_api_name=named("order-api", environment_suffix),
        description="Order pipeline API: validates orders and queues them for processing",
        # Stage logging needs the account-level role; CDK keeps it on delete (other APIs use it).
        cloud_watch_role=True,
        deploy_options=apigw.StageOptions(
            stage_name=STAGE_NAME,
            logging_level=apigw.MethodLoggingLevel.INFO,
            data_trace_enabled=True,
            metrics_enabled=True,
            tracing_enabled=True,
            throttling_rate_limit=THROTTLE_RATE_LIMIT,
            throttling_burst_limit=THROTTLE_BURST_LIMIT,
            access_log_destination=apigw.LogGroupLogDestination(access_logs),
            access_log_format=json_access_log_format(),
        ),
    )
    _drop_default_endpoint_output(api)
    validator = api.add_request_validator(
        "OrderRequestValidator",
        request_validator_name=named("order-body-validator", environment_suffix),
        validate_request_body=True,
        # No parameter is required today; any declared later is enforced at the edge.
        validate_request_parameters=True,
    )
    model = api.add_model(
        "OrderModel",
        content_type="application/json",
        description="An order: orderId, customerId and at least one item",
        schema=ORDER_SCHEMA,
    )
    method = api.root.add_resource("orders").add_method(
        "POST",
        apigw.LambdaIntegration(target),
        request_validator=validator,
        request_models={"application/json": model},
    )
    acknowledge_public_method(
        method,
        "public order intake as specified by seed 003, which defines no caller authentication; orders are "
        "schema-validated at the edge and in the handler, throttled and behind the WAF web ACL. Add a Cognito "
        "or IAM authorizer when the callers are known",
    )
    web_acl = _web_acl(scope, api, environment_suffix) if enable_waf else None
    return api, web_acl


def _drop_default_endpoint_output(api: apigw.RestApi) -> None:
    """RestApi adds an undescribed, unexported ``Endpoint`` output; the stack adds its own."""
    api.node.try_remove_child("Endpoint")


def _web_acl(scope: Construct, api: apigw.RestApi, environment_suffix: str) -> wafv2.CfnWebACL:
    """A regional WebACL (AWS common rule set + per-IP rate limit) on the API stage."""
    return regional_web_acl(
        scope,
        "OrderApiWebAcl",
        name=named("order-api-waf", environment_suffix),
        metric_name="orderApiWebAcl",
        stage=api.deployment_stage,
        rules=[
            common_rule_set_rule(priority=0, metric_name="awsCommonRuleSet"),
            rate_limit_rule(priority=1, metric_name="rateLimitPerIp", limit=WAF_RATE_LIMIT_PER_IP),
        ],
    )
