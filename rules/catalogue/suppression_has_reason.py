"""Every suppression written into a stack's templates says why."""

from checks.assembly import Stack
from checks.suppressions import reasonless
from rules.rule import Rule, RuleContext, Verdict


def check(stack: Stack, ctx: RuleContext) -> Verdict:
    # The stack and its nested stacks: suppressions sit on resources anywhere below the top level.
    offenders = []
    for member in ctx.assembly.stacks:
        if member.top_level is not stack:
            continue
        where = "" if member is stack else f" in {member.name}"
        for entry in reasonless(member.template.get("Metadata")):
            offenders.append(f"{entry.describe()} on the template{where}")
        for resource in member.resources.values():
            for entry in reasonless(resource.definition.get("Metadata")):
                offenders.append(f"{entry.describe()} on {resource.logical_id}{where}")
    if offenders:
        return f"{len(offenders)} suppression(s) give no reason: {'; '.join(offenders)}"
    return None


RULE = Rule(
    id="SG-SUP-001",
    title="Suppressions give a reason",
    severity="medium",
    concerns=("deployment",),
    scope="stack",
    check=check,
    rationale=(
        "A suppression turns a finding off for good; without a reason nobody can later tell an accepted, "
        "reviewed risk from a check silenced to get a build green, and a stale suppression outlives the "
        "reason it never gave. Suppressed findings are shown but not scored or gated, so the reason is the "
        "only record of the decision. This rule reads the suppressions written into the templates: "
        "stackgrade's own (`Metadata.stackgrade.suppress`, entries `{rule, reason}`), checkov skips "
        "(`Metadata.checkov.skip`, entries `{id, comment}`) and cdk-nag 2 style suppressions "
        "(`Metadata.cdk_nag.rules_to_suppress`, entries `{id, reason}`). An entry that names no rule "
        "suppresses nothing and is flagged too. Suppressions kept outside the templates (cdk-nag 3 "
        "acknowledgements, `[[tool.stackgrade.suppressions]]` settings) are checked when findings are merged "
        "and reported under this rule on the resource they silence; so is every cfn-guard `SuppressedRules` "
        "entry, which has no place for a reason (use a stackgrade suppression with a reason instead)."
    ),
    remediation=(
        "Give every suppression a reason that a reviewer can check, e.g. "
        "`cfn_queue.add_metadata(\"stackgrade\", {\"suppress\": [{\"rule\": \"CKV_AWS_27\", \"reason\": "
        "\"encrypted with SSE-SQS, which checkov does not recognize\"}]})`, a `comment` on each checkov skip, "
        "`Validations.of(construct).acknowledge(id=..., reason=...)` for cdk-nag, and `reason = \"...\"` on "
        "each `[[tool.stackgrade.suppressions]]` entry. Remove suppressions nobody can justify any more."
    ),
)
