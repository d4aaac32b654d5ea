"""Every API Gateway REST API stage has X-Ray tracing enabled."""

from checks.assembly import Resource
from rules.rule import NOT_APPLICABLE, Rule, RuleContext, Verdict
from rules.support.tracing_logging import STAGE_TYPES, stage_label, stage_settings
from rules.support.values import switch


def check(stage: Resource, ctx: RuleContext) -> Verdict:
    settings = stage_settings(stage)
    if settings is None:
        return NOT_APPLICABLE  # a Deployment that creates no stage
    enabled = switch(ctx, stage.stack, settings.get("TracingEnabled"))
    if enabled:
        return None
    if enabled is None:
        return f"{stage_label(stage, ctx)} sets TracingEnabled from an expression stackgrade cannot evaluate"
    return (f"{stage_label(stage, ctx)} does not enable X-Ray tracing (TracingEnabled): traces start at the "
            "function, so time spent in API Gateway and the integration is invisible")


RULE = Rule(
    id="SG-TRC-002",
    title="API stages have X-Ray tracing enabled",
    severity="medium",
    concerns=("tracing", "api"),
    applies_to=STAGE_TYPES,
    check=check,
    rationale=(
        "The API stage is where a request enters the system. With tracing on, the X-Ray trace starts there "
        "and shows authorizer, integration and backend latency in one timeline; without it, traces begin at "
        "the first function and the API's share of a slow or failed request is unaccounted for. Applies to "
        "`AWS::ApiGateway::Stage` and to a `Deployment` that creates its stage (`StageName`)."
    ),
    remediation=(
        "`apigateway.RestApi(..., deploy_options=apigateway.StageOptions(tracing_enabled=True))`; "
        "CloudFormation: `TracingEnabled: true` on the Stage."
    ),
    seeds=("000 AWS X-Ray Distributed Tracing", "003 #5 No X-Ray Tracing Enabled"),
)
