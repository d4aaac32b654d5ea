"""REST API write methods validate the request body at the gateway."""

from checks.assembly import Resource
from rules.rule import NOT_APPLICABLE, Rule, RuleContext, Verdict
from rules.support.api import (
    WRITE_METHODS,
    http_method,
    integration_targets,
    integration_type,
    method_label,
    request_validators,
)
from rules.support.values import flag


def check(method: Resource, ctx: RuleContext) -> Verdict:
    if http_method(ctx, method) not in WRITE_METHODS:
        return NOT_APPLICABLE  # GET, DELETE, HEAD and OPTIONS (CORS preflight) carry no body to validate
    if integration_type(ctx, method) == "MOCK":
        return NOT_APPLICABLE  # a mock integration runs no backend that a bad body could reach
    label = method_label(ctx, method)
    backend = ", ".join(f.logical_id for f in integration_targets(ctx, method))
    reaches = f"function {backend}" if backend else "the backend"
    if method.properties.get("RequestValidatorId") is None:
        return f"{label} has no request validator: malformed bodies reach {reaches} and are paid for there"
    validators = request_validators(ctx, method)
    if not validators:
        return (f"{label}'s RequestValidatorId does not resolve to a RequestValidator in the app, "
                "so body validation cannot be confirmed")
    validator = validators[0]
    if flag(ctx, validator.stack, validator.properties.get("ValidateRequestBody")) is not True:
        return (f"{label} uses request validator {validator.logical_id}, which does not validate the body "
                "(ValidateRequestBody is not true)")
    if not method.properties.get("RequestModels"):
        return (f"{label} validates bodies with {validator.logical_id} but declares no RequestModels, "
                "so there is no schema to validate against")
    return None


RULE = Rule(
    id="SG-API-001",
    title="API write methods validate the request body",
    severity="medium",
    concerns=("api",),
    applies_to=("AWS::ApiGateway::Method",),
    check=check,
    rationale=(
        "Without a request validator API Gateway forwards any body to the integration: every malformed "
        "or hostile payload costs a Lambda invocation (or lands on a queue) and each handler must defend "
        "itself. A validator with `ValidateRequestBody` checks the body against the method's request "
        "model at the edge and answers 400 for free. Methods with a mock integration, and methods without "
        "a body (GET, DELETE, HEAD, OPTIONS), are not checked."
    ),
    remediation=(
        "Create `validator = api.add_request_validator(\"BodyValidator\", validate_request_body=True)` and "
        "a model (`api.add_model(\"OrderModel\", schema=apigateway.JsonSchema(...))`), then "
        "`resource.add_method(\"POST\", integration, request_validator=validator, "
        "request_models={\"application/json\": model})`."
    ),
    seeds=("003 #6 Missing API Gateway Request Validation",),
)
