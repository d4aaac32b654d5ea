"""Every API Gateway REST API stage logs method executions (INFO/ERROR) and publishes per-method metrics."""

from __future__ import annotations

from checks.assembly import Resource
from rules.rule import NOT_APPLICABLE, Rule, RuleContext, Verdict
from rules.support.tracing_logging import STAGE_TYPES, api_methods, display_path, stage_label, stage_settings
from rules.support.values import listing, switch

LOGGING_LEVELS = ("INFO", "ERROR")
ALL_PATHS = "/*"
ALL_METHODS = "*"
UNKNOWN = "an expression"


def _entries(stage: Resource, settings: dict, ctx: RuleContext) -> list[tuple[int, str, str, dict]]:
    """(specificity, http method, encoded path, fields set) per settings entry; catch-all first."""
    raw = [e for e in settings.get("MethodSettings") or [] if isinstance(e, dict)]
    if stage.type == "AWS::ApiGateway::Deployment":
        # a Deployment's StageDescription-wide LoggingLevel / MetricsEnabled act as the */* entry
        defaults = {k: settings[k] for k in ("LoggingLevel", "MetricsEnabled") if k in settings}
        if defaults:
            raw.insert(0, defaults)
    entries = []
    for entry in raw:
        http = (ctx.assembly.literal(stage.stack, entry.get("HttpMethod")) or ALL_METHODS).upper()
        path = ctx.assembly.literal(stage.stack, entry.get("ResourcePath")) or ALL_PATHS
        fields: dict = {}
        if "LoggingLevel" in entry:
            level = ctx.assembly.literal(stage.stack, entry["LoggingLevel"])
            fields["logging"] = level.upper() if level is not None else UNKNOWN
        if "MetricsEnabled" in entry:
            fields["metrics"] = switch(ctx, stage.stack, entry["MetricsEnabled"])
        specificity = (path != ALL_PATHS) + (http != ALL_METHODS)
        entries.append((specificity, http, path, fields))
    return sorted(entries, key=lambda e: e[0])


def _effective(entries: list[tuple[int, str, str, dict]], http: str, path: str | None) -> dict:
    """Stage defaults overlaid with the entries that match the method, most specific last."""
    settings: dict = {"logging": "OFF", "metrics": False}
    for _, entry_http, entry_path, fields in entries:
        if entry_http in (ALL_METHODS, http) and entry_path in (ALL_PATHS, path):
            settings.update(fields)
    return settings


def _problems(settings: dict) -> list[str]:
    problems = []
    if settings["logging"] not in LOGGING_LEVELS:
        problems.append(f"logging {settings['logging']}")
    if settings["metrics"] is None:
        problems.append("metrics set by an expression")
    elif not settings["metrics"]:
        problems.append("metrics off")
    return problems


def check(stage: Resource, ctx: RuleContext) -> Verdict:
    settings = stage_settings(stage)
    if settings is None:
        return NOT_APPLICABLE  # a Deployment that creates no stage
    label = stage_label(stage, ctx)
    entries = _entries(stage, settings, ctx)
    if not entries:
        return (f"{label} has no MethodSettings: execution logging is OFF and detailed CloudWatch metrics are "
                "disabled for every method")
    methods = [m for api in ctx.assembly.targets(stage.stack, stage.properties.get("RestApiId"))
               for m in api_methods(ctx, api) if m.http_method != "OPTIONS"]
    failing = []
    if methods:
        for method in methods:
            problems = _problems(_effective(entries, method.http_method, method.path))
            if problems:
                failing.append(f"{method.label} ({', '.join(problems)})")
    else:  # the API's methods are not in this app: judge the */* defaults and every explicit override
        problems = _problems(_effective(entries, ALL_METHODS, ALL_PATHS))
        if problems:
            failing.append(f"*/* ({', '.join(problems)})")
        for specificity, http, path, fields in entries:
            problems = _problems({"logging": "INFO", "metrics": True, **fields}) if specificity else []
            if problems:
                failing.append(f"{http} {display_path(path)} ({', '.join(problems)})")
    if failing:
        return (f"{label} leaves methods without execution logging (INFO or ERROR) or detailed metrics: "
                f"{listing(failing)}")
    return None


RULE = Rule(
    id="SG-LOG-004",
    title="API stages have method logging and metrics",
    severity="medium",
    concerns=("logging",),
    applies_to=STAGE_TYPES,
    check=check,
    rationale=(
        "Execution logs show why API Gateway answered 4xx/5xx (authorizer denials, mapping errors, "
        "integration timeouts) and detailed metrics give per-method latency and error counts to alarm on; "
        "both are off by default. A `MethodSettings` entry for all methods (`HttpMethod: \"*\"`, "
        "`ResourcePath: \"/*\"`) with `LoggingLevel` INFO or ERROR and `MetricsEnabled: true` satisfies the "
        "rule; per-method entries count too, overlaid on the `*/*` entry, and every method of the API "
        "(OPTIONS preflights excepted) must end up logged and measured. Logging needs the account-level "
        "API Gateway CloudWatch role (`cloud_watch_role=True` in CDK)."
    ),
    remediation=(
        "`apigateway.RestApi(..., cloud_watch_role=True, deploy_options=apigateway.StageOptions("
        "logging_level=apigateway.MethodLoggingLevel.INFO, metrics_enabled=True))`; per method: "
        "`method_options={\"/orders/POST\": apigateway.MethodDeploymentOptions(logging_level=..., "
        "metrics_enabled=True)}`."
    ),
    seeds=("003 #12 No API Gateway Stage Configuration", "002 #3 Missing API Gateway Lambda Integrations"),
)
