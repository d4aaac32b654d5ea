"""Exported output names carry the environment suffix."""

from checks.assembly import Stack
from rules.rule import NOT_APPLICABLE, Rule, RuleContext, Verdict
from rules.support.naming import carries_suffix, no_suffix_message, shown


def check(stack: Stack, ctx: RuleContext) -> Verdict:
    exports = {oid: output["Export"]["Name"] for oid, output in stack.outputs.items()
               if isinstance(output, dict) and isinstance(output.get("Export"), dict)
               and output["Export"].get("Name") is not None}
    if not exports:
        return NOT_APPLICABLE
    suffix = ctx.environment_suffix(stack)
    if suffix is None:
        return no_suffix_message(stack, f"the stack exports {len(exports)} output(s)")
    bare = [f"{oid} ({shown(ctx.assembly, stack, name)!r})" for oid, name in sorted(exports.items())
            if not carries_suffix(ctx.assembly, stack, name, suffix)]
    if bare:
        return (f"{len(bare)} export name(s) lack the environment suffix {suffix!r}, so a second environment "
                f"in the account fails to deploy: {', '.join(bare)}")
    return None


RULE = Rule(
    id="SG-OUT-002",
    title="Export names carry the environment suffix",
    severity="low",
    concerns=("outputs", "naming"),
    scope="stack",
    check=check,
    rationale=(
        "Export names are unique per account and region. An export without the environment suffix "
        "(`orders-queue-url`) makes the next environment's stack fail with 'Export ... is already "
        "exported by stack ...', and a consumer's `Fn::ImportValue` silently reads another environment's value."
    ),
    remediation=(
        "Build export names from the suffix: `CfnOutput(..., export_name=f\"orders-queue-url-{environment_suffix}\")`."
    ),
    seeds=("002 #10 Missing CloudFormation Outputs",),
)
