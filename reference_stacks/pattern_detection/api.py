"""ApiStack: the REST API (POST /patterns, GET /alerts, POST /approve/{token}), canary stage, WAF."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from reference_stacks.common import (
    Variant,
    acknowledge_public_method,
    common_rule_set_rule,
    json_access_log_format,
    rate_limit_rule,
    regional_web_acl,
    waf_visibility,
)

from .base import PatternNestedStack
from .compute import ComputeStack
from .data import DataStack

STAGE_NAME = "prod"
CANARY_PERCENT = 10
WAF_RATE_LIMIT = 2000
BLOCKED_COUNTRIES = ["CN", "RU", "KP"]
API_KEY_MIN_LENGTH = 20

PATTERN_SCHEMA = apigateway.JsonSchema(
    schema=apigateway.JsonSchemaVersion.DRAFT4,
    type=apigateway.JsonSchemaType.OBJECT,
    required=["symbol", "prices"],
    properties={
        "symbol": apigateway.JsonSchema(type=apigateway.JsonSchemaType.STRING, pattern="^[A-Z0-9.\\-]{1,10}$"),
        "prices": apigateway.JsonSchema(
            type=apigateway.JsonSchemaType.ARRAY,
            min_items=10,
            max_items=5000,
            items=apigateway.JsonSchema(type=apigateway.JsonSchemaType.NUMBER, exclusive_minimum=True, minimum=0),
        ),
        "patternTypes": apigateway.JsonSchema(
            type=apigateway.JsonSchemaType.ARRAY,
            min_items=1,
            items=apigateway.JsonSchema(
                type=apigateway.JsonSchemaType.STRING,
                enum=["head-and-shoulders", "double-top", "ascending-triangle"],
            ),
        ),
    },
)
APPROVAL_SCHEMA = apigateway.JsonSchema(
    schema=apigateway.JsonSchemaVersion.DRAFT4,
    type=apigateway.JsonSchemaType.OBJECT,
    required=["decision", "approver"],
    properties={
        "decision": apigateway.JsonSchema(type=apigateway.JsonSchemaType.STRING, enum=["approve", "reject"]),
        "approver": apigateway.JsonSchema(type=apigateway.JsonSchemaType.STRING, min_length=1, max_length=128),
        "comment": apigateway.JsonSchema(type=apigateway.JsonSchemaType.STRING, max_length=1000),
    },
)


class ApiStack(PatternNestedStack):
    """Public entry point of the system."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        variant: Variant,
        environment_suffix: str,
        data: DataStack,
        compute: ComputeStack,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            variant=variant,
            environment_suffix=environment_suffix,
            description="Pattern detection API: API Gateway, canary stage, WAF",
        )
        if self.ideal:
            # Imported here so API Gateway's invoke permissions live in this stack: created in the
            # compute stack they would reference the API and make compute and api depend on each other.
            detector = lambda_.Function.from_function_attributes(
                self, "PatternDetectorLive", function_arn=compute.detector_alias.function_arn, same_environment=True
            )
            approver = lambda_.Function.from_function_attributes(
                self,
                "ApprovalProcessorFn",
                function_arn=compute.functions["approval-processor"].function_arn,
                same_environment=True,
            )
            self._build_ideal(detector, approver, data)
        else:
            self._build_baseline()

    def _build_ideal(self, detector: lambda_.IFunction, approver: lambda_.IFunction, data: DataStack) -> None:
        access_logs = self.log_group("AccessLogs", f"/aws/apigateway/{self.name('pattern-detection-api')}")
        self.api = apigateway.RestApi(
            self,
            "Api",
            rest_api_name=self.name("pattern-detection-api"),
            description="Stock pattern detection API",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=cdk.RemovalPolicy.DESTROY,
            deploy_options=apigateway.StageOptions(
                stage_name=STAGE_NAME,
                tracing_enabled=True,
                metrics_enabled=True,
                logging_level=apigateway.MethodLoggingLevel.INFO,
                data_trace_enabled=False,
                throttling_rate_limit=100,
                throttling_burst_limit=200,
                access_log_destination=apigateway.LogGroupLogDestination(access_logs),
                access_log_format=json_access_log_format(),
            ),
        )
        validator = self.api.add_request_validator(
            "RequestValidator",
            request_validator_name=self.name("pattern-detection-validator"),
            validate_request_body=True,
            validate_request_parameters=True,
        )
        pattern_model = self.api.add_model("PatternRequest", content_type="application/json", schema=PATTERN_SCHEMA)
        approval_model = self.api.add_model(
            "ApprovalRequest", content_type="application/json", schema=APPROVAL_SCHEMA
        )
        patterns = self.api.root.add_resource("patterns").add_method(
            "POST",
            apigateway.LambdaIntegration(detector),
            api_key_required=True,
            request_validator=validator,
            request_models={"application/json": pattern_model},
        )
        alerts = self.api.root.add_resource("alerts").add_method(
            "GET",
            apigateway.LambdaIntegration(detector),
            api_key_required=True,
            request_validator=validator,
            request_parameters={
                "method.request.querystring.limit": False,
                "method.request.querystring.minConfidence": False,
                "method.request.querystring.symbol": False,
            },
        )
        approve = self.api.root.add_resource("approve").add_resource("{token}").add_method(
            "POST",
            apigateway.LambdaIntegration(approver),
            api_key_required=True,
            request_validator=validator,
            # API Gateway rejects a call without the token; the handler checks its format.
            request_parameters={"method.request.path.token": True},
            request_models={"application/json": approval_model},
        )
        api_keys = (
            "seed 004 defines callers by API key only, no user identities for an authorizer: every call needs the "
            "usage plan's API key (throttled, with a quota) and the WAF blocks a missing or short X-API-Key. An API "
            "key identifies a caller but does not authorize it; add an IAM or Cognito authorizer when callers have "
            "identities"
        )
        for method in (patterns, alerts):
            acknowledge_public_method(method, api_keys)
        acknowledge_public_method(
            approve,
            f"{api_keys}. The approver is whoever received the approval request: the path carries its single-use "
            "128-bit token, valid one hour and decided once by a conditional write",
        )
        self.api_key = self.api.add_api_key("ApiKey", api_key_name=self.name("pattern-detection-key"))
        plan = self.api.add_usage_plan(
            "UsagePlan",
            name=self.name("pattern-detection-plan"),
            throttle=apigateway.ThrottleSettings(rate_limit=50, burst_limit=100),
            quota=apigateway.QuotaSettings(limit=100000, period=apigateway.Period.DAY),
        )
        plan.add_api_key(self.api_key)
        plan.add_api_stage(stage=self.api.deployment_stage)
        # Canary: 10 % of the stage's traffic goes to the canary deployment.
        stage = self.api.deployment_stage.node.default_child
        stage.add_property_override(
            "CanarySetting",
            {
                "DeploymentId": self.api.latest_deployment.deployment_id,
                "PercentTraffic": CANARY_PERCENT,
                "UseStageCache": False,
            },
        )
        self._waf(data)

    def _waf(self, data: DataStack) -> None:
        block = wafv2.CfnWebACL.RuleActionProperty(block={})
        self.web_acl = regional_web_acl(
            self,
            "WebAcl",
            name=self.name("PatternDetectionWAF"),
            stage=self.api.deployment_stage,
            association_id="WafAssociation",
            rules=[
                rate_limit_rule(
                    name="RateLimit", priority=0, metric_name="RateLimit", limit=WAF_RATE_LIMIT,
                    evaluation_window_sec=300,
                ),
                wafv2.CfnWebACL.RuleProperty(
                    name="GeoBlock",
                    priority=1,
                    action=block,
                    statement=wafv2.CfnWebACL.StatementProperty(
                        geo_match_statement=wafv2.CfnWebACL.GeoMatchStatementProperty(
                            country_codes=BLOCKED_COUNTRIES
                        )
                    ),
                    visibility_config=waf_visibility("GeoBlock"),
                ),
                common_rule_set_rule(priority=2, metric_name="AWSManagedRulesCommonRuleSet"),
                wafv2.CfnWebACL.RuleProperty(
                    # Blocks calls whose X-API-Key is shorter than 20 characters (or missing) before
                    # they reach API Gateway's own key check.
                    name="ApiKeyHeaderSize",
                    priority=3,
                    action=block,
                    statement=wafv2.CfnWebACL.StatementProperty(
                        size_constraint_statement=wafv2.CfnWebACL.SizeConstraintStatementProperty(
                            field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(
                                single_header={"Name": "x-api-key"}
                            ),
                            comparison_operator="LT",
                            size=API_KEY_MIN_LENGTH,
                            text_transformations=[
                                wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")
                            ],
                        )
                    ),
                    visibility_config=waf_visibility("ApiKeyHeaderSize"),
                ),
            ],
        )
        wafv2.CfnLoggingConfiguration(
            self,
            "WafLogging",
            resource_arn=self.web_acl.attr_arn,
            log_destination_configs=[data.waf_log_bucket.bucket_arn],
        )

    def _build_baseline(self) -> None:
        """The API by fixed function names: no validation, no WAF, no tracing, no logs, no canary."""
        self.api = apigateway.RestApi(self, "Api", rest_api_name=self.name("pattern-detection-api"))

        def by_name(construct_id: str, function_name: str) -> lambda_.IFunction:
            arn = self.format_arn(
                service="lambda",
                resource="function",
                resource_name=function_name,
                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
            )
            return lambda_.Function.from_function_attributes(
                self, construct_id, function_arn=arn, same_environment=True
            )

        detector = apigateway.LambdaIntegration(by_name("PatternDetectorFn", "PatternDetector"))
        self.api.root.add_resource("patterns").add_method("POST", detector)
        self.api.root.add_resource("alerts").add_method("GET", detector)
        self.api.root.add_resource("approve").add_resource("{token}").add_method(
            "POST", apigateway.LambdaIntegration(by_name("ApprovalProcessorFn", "ApprovalProcessor"))
        )
