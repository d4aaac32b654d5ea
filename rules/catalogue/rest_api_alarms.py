"""Every REST API has 5XX, 4XX and latency alarms."""

from checks.assembly import Resource
from rules.rule import Rule, RuleContext, Verdict
from rules.support.alarms import UPPER, coverage
from rules.support.values import either

REQUIRED = ("5XXError", "4XXError", "Latency")


def check(api: Resource, ctx: RuleContext) -> Verdict:
    gaps = [c.gap(UPPER) for c in (coverage(ctx, api, metric, ("AWS/ApiGateway",), UPPER) for metric in REQUIRED)
            if not c.counted]
    if gaps:
        name = ctx.relations.physical_name(api)
        named = f" (ApiName {name})" if name else ""
        return f"no alarm watches the API's {either(gaps)}{named}"
    return None


RULE = Rule(
    id="SG-ALM-006",
    title="REST APIs have 5XX, 4XX and latency alarms",
    severity="high",
    concerns=("alarms", "api"),
    applies_to=("AWS::ApiGateway::RestApi",),
    check=check,
    rationale=(
        "The API is what customers see: 5XXError means the backend fails, a jump in 4XXError means clients "
        "are broken or being rejected (bad deploy, auth, throttling), Latency that requests slow towards "
        "the 29 s integration timeout. Alarms match the API through the `ApiName` dimension (the API's "
        "name) in the alarm's metric or in any metric of its metric math, so error-rate alarms "
        "(`100 * 5XXError / Count`) count."
    ),
    remediation=(
        "`cloudwatch.Alarm(self, \"Api5xx\", metric=api.metric_server_error(), threshold=1, ...)`, "
        "`api.metric_client_error()` and `api.metric_latency(statistic=\"p99\")` alarms (or a "
        "`cloudwatch.MathExpression` error rate over them and `api.metric_count()`), each with an SNS action."
    ),
    seeds=("000 #1 Comprehensive CloudWatch Alarms", "002 #8 Missing CloudWatch Alarms"),
)
