"""The order API: ``POST /orders`` on a REST API, and (ideal) its edge protection and logging."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from reference_stacks.common import named

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
    access_logs = logs.LogGroup(
        scope,
        "OrderApiAccessLogs",
        log_group_name=named("/aws/apigateway/order-api-access", environment_suffix),
        retention=logs.RetentionDays.ONE_WEEK,
        removal_policy=cdk.RemovalPolicy.DESTROY,
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
            access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                caller=True,
                http_method=True,
                ip=True,
                protocol=True,
                request_time=True,
                resource_path=True,
                response_length=True,
                status=True,
                user=True,
            ),
        ),
    )
    _drop_default_endpoint_output(api)
    validator = api.add_request_validator(
        "OrderRequestValidator",
        request_validator_name=named("order-body-validator", environment_suffix),
        validate_request_body=True,
        validate_request_parameters=False,
    )
    model = api.add_model(
        "OrderModel",
        content_type="application/json",
        description="An order: orderId, customerId and at least one item",
        schema=ORDER_SCHEMA,
    )
    api.root.add_resource("orders").add_method(
        "POST",
        apigw.LambdaIntegration(target),
        request_validator=validator,
        request_models={"application/json": model},
    )
    web_acl = _web_acl(scope, api, environment_suffix) if enable_waf else None
    return api, web_acl


def _drop_default_endpoint_output(api: apigw.RestApi) -> None:
    """RestApi adds an undescribed, unexported ``Endpoint`` output; the stack adds its own."""
    api.node.try_remove_child("Endpoint")


def _visibility(metric_name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
    )


def _web_acl(scope: Construct, api: apigw.RestApi, environment_suffix: str) -> wafv2.CfnWebACL:
    """A regional WebACL (AWS common rule set + per-IP rate limit) on the API stage."""
    web_acl = wafv2.CfnWebACL(
        scope,
        "OrderApiWebAcl",
        name=named("order-api-waf", environment_suffix),
        scope="REGIONAL",
        default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
        visibility_config=_visibility("orderApiWebAcl"),
        rules=[
            wafv2.CfnWebACL.RuleProperty(
                name="AWSManagedRulesCommonRuleSet",
                priority=0,
                override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS", name="AWSManagedRulesCommonRuleSet"
                    )
                ),
                visibility_config=_visibility("awsCommonRuleSet"),
            ),
            wafv2.CfnWebACL.RuleProperty(
                name="RateLimitPerIp",
                priority=1,
                action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                        limit=WAF_RATE_LIMIT_PER_IP, aggregate_key_type="IP"
                    )
                ),
                visibility_config=_visibility("rateLimitPerIp"),
            ),
        ],
    )
    wafv2.CfnWebACLAssociation(
        scope,
        "OrderApiWebAclAssociation",
        resource_arn=api.deployment_stage.stage_arn,
        web_acl_arn=web_acl.attr_arn,
    )
    return web_acl
