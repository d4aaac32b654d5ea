"""Every API Gateway REST API stage writes access logs."""

from checks.assembly import Resource
from rules.rule import NOT_APPLICABLE, Rule, RuleContext, Verdict
from rules.support.tracing_logging import STAGE_TYPES, stage_label, stage_settings


def check(stage: Resource, ctx: RuleContext) -> Verdict:
    settings = stage_settings(stage)
    if settings is None:
        return NOT_APPLICABLE  # a Deployment that creates no stage
    access = settings.get("AccessLogSetting")
    if isinstance(access, dict) and access.get("DestinationArn") not in (None, ""):
        return None
    return (f"{stage_label(stage, ctx)} has no access logging (AccessLogSetting.DestinationArn): who called "
            "which route, when and with what status is recorded nowhere")


RULE = Rule(
    id="SG-LOG-003",
    title="API stages have access logging",
    severity="medium",
    concerns=("logging", "api"),
    applies_to=STAGE_TYPES,
    check=check,
    rationale=(
        "Access logs are the API's request log: one line per request with caller, route, status, latency "
        "and request ID. Without them a client's \"we got a 502 at 10:14\" cannot be matched to anything, "
        "and abuse or a burst of 4xx from one caller leaves no trace. Execution logging (SG-LOG-004) does "
        "not replace them. Applies to `AWS::ApiGateway::Stage` and to a `Deployment` that creates its stage."
    ),
    remediation=(
        "`deploy_options=apigateway.StageOptions(access_log_destination=apigateway.LogGroupLogDestination("
        "access_logs), access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(...))` with "
        "`access_logs = logs.LogGroup(..., retention=logs.RetentionDays.ONE_MONTH)`."
    ),
    seeds=("002 #3 Missing API Gateway Lambda Integrations", "002 #9 Missing CloudWatch Log Groups"),
)
