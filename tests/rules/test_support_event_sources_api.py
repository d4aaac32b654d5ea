"""The event-source and API helpers on inputs the rule fixtures do not reach."""

from __future__ import annotations

from checks.assembly import Assembly
from checks.config import StackgradeConfig
from checks.relations import Relations
from rules.rule import RuleContext
from rules.support import api, event_sources

FUNCTION = {
    "Type": "AWS::Lambda::Function",
    "Properties": {"Runtime": "python3.12", "Handler": "index.handler",
                   "Role": "arn:aws:iam::123456789012:role/w", "Code": {"ZipFile": "x"}},
}


def context(resources: dict, parameters: dict | None = None) -> RuleContext:
    template = {"Parameters": parameters or {}, "Resources": resources}
    assembly = Assembly.from_templates({"Stack": template})
    return RuleContext(assembly, Relations(assembly), StackgradeConfig())


def resource(ctx: RuleContext, logical_id: str):
    return ctx.assembly.stacks[0].resources[logical_id]


# --- event_sources -------------------------------------------------------------------------------


def test_render_replaces_what_it_cannot_read_and_rejects_non_strings():
    assert event_sources.render({"Fn::Sub": "arn:aws:sqs:${AWS::Region}:1:q"}, "x") == "arn:aws:sqs:x:1:q"
    assert event_sources.render({"Fn::Sub": [{"Ref": "Text"}, {}]}, "x") == "x"
    assert event_sources.render({"Fn::ImportValue": "shared-arn"}, "x") == "x"
    assert event_sources.render(None, "x") is None
    assert event_sources.render(["arn:aws:sqs:::q"], "x") is None


def test_number_reads_literals_and_defaults_and_nothing_else():
    ctx = context({}, {"Defaulted": {"Type": "Number", "Default": 300}, "Open": {"Type": "Number"}})
    stack = ctx.assembly.stacks[0]
    assert event_sources.number(ctx, stack, "300") == 300.0
    assert event_sources.number(ctx, stack, {"Ref": "Defaulted"}) == 300.0
    assert event_sources.number(ctx, stack, {"Ref": "Open"}) is None
    assert event_sources.number(ctx, stack, "five minutes") is None


def test_redrive_policy_as_object_json_string_or_unreadable_string():
    ctx = context({
        "AsObject": {"Type": "AWS::SQS::Queue",
                     "Properties": {"RedrivePolicy": {"deadLetterTargetArn": "arn", "maxReceiveCount": 3}}},
        "AsJson": {"Type": "AWS::SQS::Queue",
                   "Properties": {"RedrivePolicy": '{"deadLetterTargetArn": "arn", "maxReceiveCount": 3}'}},
        "NotJson": {"Type": "AWS::SQS::Queue", "Properties": {"RedrivePolicy": "deadLetterTargetArn=arn"}},
        "Empty": {"Type": "AWS::SQS::Queue", "Properties": {"RedrivePolicy": {}}},
    })
    expected = {"deadLetterTargetArn": "arn", "maxReceiveCount": 3}
    assert event_sources.redrive_policy(resource(ctx, "AsObject")) == expected
    assert event_sources.redrive_policy(resource(ctx, "AsJson")) == expected
    assert event_sources.redrive_policy(resource(ctx, "NotJson")) is None
    assert event_sources.redrive_policy(resource(ctx, "Empty")) is None


def test_source_kind_by_arn_service_self_managed_kafka_or_unknown():
    def mapping(**properties) -> dict:
        return {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {"FunctionName": {"Ref": "Worker"}, **properties}}

    ctx = context({
        "Worker": FUNCTION,
        "DocDb": mapping(EventSourceArn="arn:aws:rds:us-east-1:123456789012:cluster:orders"),
        "Kafka": mapping(SelfManagedEventSource={"Endpoints": {"KafkaBootstrapServers": ["b-1:9092"]}},
                         Topics=["orders"]),
        "Imported": mapping(EventSourceArn={"Fn::ImportValue": "shared-stream-arn"}),
    })
    kinds = {name: event_sources.source_kind(ctx, event_sources.mapping_of(ctx, resource(ctx, name)))
             for name in ("DocDb", "Kafka", "Imported")}
    assert kinds == {"DocDb": "docdb", "Kafka": "kafka", "Imported": None}


def test_async_invocation_of_a_version_has_no_known_qualifier():
    ctx = context({
        "Worker": FUNCTION,
        "Version": {"Type": "AWS::Lambda::Version", "Properties": {"FunctionName": {"Ref": "Worker"}}},
        "Live": {"Type": "AWS::Lambda::Alias",
                 "Properties": {"FunctionName": {"Ref": "Worker"}, "FunctionVersion": "1", "Name": "live"}},
        "Rule": {"Type": "AWS::Events::Rule", "Properties": {
            "ScheduleExpression": "rate(1 hour)",
            "Targets": [{"Id": "Pinned", "Arn": {"Ref": "Version"}},
                        {"Id": "Aliased", "Arn": {"Ref": "Live"}},
                        {"Id": "Latest", "Arn": {"Fn::GetAtt": ["Worker", "Arn"]}}]}},
    })
    invocations = event_sources.async_invocations(ctx, resource(ctx, "Worker"))
    assert invocations == [
        event_sources.AsyncInvocation("EventBridge rule Rule", None),
        event_sources.AsyncInvocation("EventBridge rule Rule", "live"),
        event_sources.AsyncInvocation("EventBridge rule Rule", event_sources.LATEST),
    ]


def test_invoke_config_qualifier_through_an_alias_reference_or_a_version():
    ctx = context({
        "Worker": FUNCTION,
        "Version": {"Type": "AWS::Lambda::Version", "Properties": {"FunctionName": {"Ref": "Worker"}}},
        "Live": {"Type": "AWS::Lambda::Alias",
                 "Properties": {"FunctionName": {"Ref": "Worker"}, "FunctionVersion": "1", "Name": "live"}},
        # The alias's name cut out of its ARN (Ref to an alias is its ARN).
        "AliasConfig": {"Type": "AWS::Lambda::EventInvokeConfig", "Properties": {
            "FunctionName": {"Ref": "Worker"},
            "Qualifier": {"Fn::Select": [7, {"Fn::Split": [":", {"Ref": "Live"}]}]},
            "MaximumRetryAttempts": 0}},
        # What CDK's version.configure_async_invoke() synthesizes.
        "VersionConfig": {"Type": "AWS::Lambda::EventInvokeConfig", "Properties": {
            "FunctionName": {"Ref": "Worker"},
            "Qualifier": {"Fn::GetAtt": ["Version", "Version"]},
            "MaximumRetryAttempts": 0}},
    })
    configs = event_sources.invoke_configs(ctx, resource(ctx, "Worker"))
    assert [(c.config.logical_id, c.qualifier) for c in configs] == [("AliasConfig", "live"), ("VersionConfig", None)]


# --- api -----------------------------------------------------------------------------------------


def test_api_render_shows_references_and_marks_the_unreadable():
    stack = context({}).assembly.stacks[0]
    assert api.render(stack, {"Fn::GetAtt": ["Api", "RootResourceId"]}) == "${Api.RootResourceId}"
    assert api.render(stack, {"Fn::GetAtt": "Api.RootResourceId"}) == "${Api.RootResourceId}"
    assert api.render(stack, {"Fn::Join": ["/", [{"Fn::GetAtt": ["Api", "Arn"]}, "stages", "prod"]]}) \
        == "${Api.Arn}/stages/prod"
    assert api.render(stack, {"Fn::ImportValue": "shared-api-id"}) == "${?}"
    assert api.render(stack, True) == "${?}"


def test_web_acl_on_an_api_arn_covers_the_named_stage_or_every_stage():
    def stage(api_id: str, name: str) -> dict:
        return {"Type": "AWS::ApiGateway::Stage",
                "Properties": {"RestApiId": {"Ref": api_id}, "DeploymentId": "d", "StageName": name}}

    def association(arn: dict) -> dict:
        return {"Type": "AWS::WAFv2::WebACLAssociation", "Properties": {"WebACLArn": "arn:acl", "ResourceArn": arn}}

    ctx = context({
        "Orders": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "orders"}},
        "OrdersProd": stage("Orders", "prod"),
        "OrdersBeta": stage("Orders", "beta"),
        "Payments": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "payments"}},
        "PaymentsProd": stage("Payments", "prod"),
        "PaymentsBeta": stage("Payments", "beta"),
        # The stage segment is a parameter: any stage of Orders may be the one.
        "OrdersAcl": association({"Fn::Sub": "arn:aws:apigateway:${AWS::Region}::/restapis/${Orders}/stages/${Stage}"}),
        # A Join with a literal stage segment: only Payments' prod stage.
        "PaymentsAcl": association({"Fn::Join": ["", [
            "arn:aws:apigateway:us-east-1::/restapis/", {"Ref": "Payments"}, "/stages/prod"]]}),
    }, {"Stage": {"Type": "String", "Default": "prod"}})
    protected = api.protected_stages(ctx)
    covered = sorted(r.logical_id for r in ctx.assembly.resources("AWS::ApiGateway::Stage") if id(r) in protected)
    assert covered == ["OrdersBeta", "OrdersProd", "PaymentsProd"]
    assert api.protected_stages(ctx) is protected  # built once per assembly
