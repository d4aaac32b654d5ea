"""REST API stages throttle requests stage-wide."""

from typing import Any

from checks.assembly import Resource
from rules.rule import Rule, RuleContext, Verdict
from rules.support.api import STAGE_WIDE, api_label, api_of

LIMITS = ("ThrottlingRateLimit", "ThrottlingBurstLimit")


def check(stage: Resource, ctx: RuleContext) -> Verdict:
    literal = ctx.assembly.literal
    settings = [s for s in stage.properties.get("MethodSettings") or [] if isinstance(s, dict)]
    api = api_of(ctx, stage)
    name = literal(stage.stack, stage.properties.get("StageName"))
    subject = f"stage {name}" if name else "stage"
    if api is not None:
        subject += f" of API {api_label(ctx, api)}"

    def scope(setting: dict) -> tuple[Any, Any]:
        return literal(stage.stack, setting.get("HttpMethod")), literal(stage.stack, setting.get("ResourcePath"))

    def limited(setting: dict, limit: str) -> bool:
        return _limit(ctx, stage, setting.get(limit)) == "set"

    stage_wide = [s for s in settings if scope(s) == STAGE_WIDE]
    missing = [limit for limit in LIMITS if not any(limited(s, limit) for s in stage_wide)]
    if not missing:
        return None
    quota = "one client can use the account's whole regional request quota (shared by every API)"
    if len(missing) < len(LIMITS):
        configured = [limit for limit in LIMITS if limit not in missing][0]
        return (f"{subject} sets {configured} but no stage-wide {missing[0]}, which falls back to the "
                "account-level default shared by every API in the region")
    if any(_limit(ctx, stage, s.get(limit)) == "off" for s in stage_wide for limit in LIMITS):
        return f"{subject} switches throttling off (-1): {quota}"
    partial = [" ".join(str(part) for part in scope(s)) for s in settings
               if any(limited(s, limit) for limit in LIMITS)]
    if partial:
        return (f"{subject} throttles only {', '.join(partial)}: every other method has no limit "
                "below the account's regional quota (add HttpMethod \"*\", ResourcePath \"/*\" limits)")
    return f"{subject} sets no throttling: {quota} and drive unbounded backend load"


def _limit(ctx: RuleContext, stage: Resource, value: Any) -> str | None:
    """"set" for a usable limit (a reference counts), "off" for a negative one, None when absent."""
    if value is None:
        return None
    literal = ctx.assembly.literal(stage.stack, value)
    if literal is None:
        return "set"
    try:
        return "set" if float(literal) >= 0 else "off"
    except ValueError:
        return None


RULE = Rule(
    id="SG-API-002",
    title="API stages set throttling limits",
    severity="medium",
    concerns=("api",),
    applies_to=("AWS::ApiGateway::Stage",),
    check=check,
    rationale=(
        "A stage without throttling only has the account-level limit (10,000 requests per second shared "
        "by every API in the region): a runaway client or a flood can starve the other APIs and scale "
        "the backend (Lambda concurrency, DynamoDB capacity, cost) without bound. Stage-wide rate and "
        "burst limits cap what this API accepts and answer the excess with 429."
    ),
    remediation=(
        "Set `deploy_options=apigateway.StageOptions(throttling_rate_limit=1000, "
        "throttling_burst_limit=2000, ...)` on `apigateway.RestApi` (or the same on an `apigateway.Stage`). "
        "CloudFormation: a `MethodSettings` entry with `HttpMethod: \"*\"`, `ResourcePath: \"/*\"`, "
        "`ThrottlingRateLimit` and `ThrottlingBurstLimit`."
    ),
    seeds=("002 #3 Missing API Gateway Lambda Integrations",),
)
