"""Public REST APIs are behind a WAFv2 web ACL on every stage."""

from checks.assembly import Resource
from rules.rule import NOT_APPLICABLE, Rule, RuleContext, Verdict
from rules.support.api import is_private, protected_stages, stage_label


def check(api: Resource, ctx: RuleContext) -> Verdict:
    if is_private(ctx, api):
        return NOT_APPLICABLE  # reachable only through VPC endpoints
    stages = ctx.relations.stages_of(api)
    if not stages:
        return NOT_APPLICABLE  # nothing deployed to protect
    protected = protected_stages(ctx)
    exposed = [stage_label(ctx, s) for s in stages if id(s) not in protected]
    if exposed:
        noun = "stage" if len(exposed) == 1 else "stages"
        return (f"public API has no WAFv2 web ACL associated with {noun} {', '.join(exposed)}: "
                "floods, injection payloads and scanners reach the backend unfiltered")
    return None


RULE = Rule(
    id="SG-WAF-001",
    title="Public APIs are behind a WAF web ACL",
    severity="medium",
    concerns=("waf",),
    applies_to=("AWS::ApiGateway::RestApi",),
    check=check,
    rationale=(
        "An edge-optimized or regional REST API is reachable from the whole internet. A WAFv2 web ACL "
        "on each stage blocks known-bad inputs (AWS managed rule groups), rate-limits single sources and "
        "gives request-level visibility before traffic costs an invocation; stage throttling alone "
        "cannot tell a flood from customers. Private APIs and APIs without a stage are not checked."
    ),
    remediation=(
        "Create a regional `wafv2.CfnWebACL(scope=\"REGIONAL\", rules=[AWSManagedRulesCommonRuleSet, a "
        "rate-based rule, ...])` and associate it with each stage: `wafv2.CfnWebACLAssociation("
        "resource_arn=api.deployment_stage.stage_arn, web_acl_arn=web_acl.attr_arn)`."
    ),
    seeds=("004 #3 Missing Advanced Service Configurations",),
)
