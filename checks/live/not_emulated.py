"""The one table of what LocalStack 4.14 community does not emulate, and the lookup the live step uses.

LocalStack's CloudFormation reports a resource of a type it has no resource provider for as
CREATE_COMPLETE without creating anything (``Fn::GetAtt`` on it yields "unknown"), so a green stack
proves nothing about such a resource. The live step lists those resources per stack as "not emulated"
and their probes as ``not-emulated``, never as passed.

``EMULATED_TYPES`` is the set of resource types with a CloudFormation resource provider in
``localstack-core`` 4.14.0 (its ``localstack.cloudformation.resource_providers`` entry points; a test
compares the table with the embedded environment). ``MISSING_SERVICES`` names the services that are
not in the community edition at all, for a clearer detail line.
"""

from __future__ import annotations

from checks.live.environment import LOCALSTACK_VERSION

EMULATED_TYPES: frozenset[str] = frozenset({
    "AWS::ApiGateway::Account", "AWS::ApiGateway::ApiKey", "AWS::ApiGateway::BasePathMapping",
    "AWS::ApiGateway::Deployment", "AWS::ApiGateway::DomainName", "AWS::ApiGateway::GatewayResponse",
    "AWS::ApiGateway::Method", "AWS::ApiGateway::Model", "AWS::ApiGateway::RequestValidator",
    "AWS::ApiGateway::Resource", "AWS::ApiGateway::RestApi", "AWS::ApiGateway::Stage", "AWS::ApiGateway::UsagePlan",
    "AWS::ApiGateway::UsagePlanKey",
    "AWS::CDK::Metadata",
    "AWS::CertificateManager::Certificate",
    "AWS::CloudFormation::Macro", "AWS::CloudFormation::Stack", "AWS::CloudFormation::WaitCondition",
    "AWS::CloudFormation::WaitConditionHandle",
    "AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm",
    "AWS::DynamoDB::GlobalTable", "AWS::DynamoDB::Table",
    "AWS::EC2::DHCPOptions", "AWS::EC2::Instance", "AWS::EC2::InternetGateway", "AWS::EC2::KeyPair",
    "AWS::EC2::NatGateway", "AWS::EC2::NetworkAcl", "AWS::EC2::PrefixList", "AWS::EC2::Route",
    "AWS::EC2::RouteTable", "AWS::EC2::SecurityGroup", "AWS::EC2::Subnet", "AWS::EC2::SubnetRouteTableAssociation",
    "AWS::EC2::TransitGateway", "AWS::EC2::TransitGatewayAttachment", "AWS::EC2::VPC", "AWS::EC2::VPCEndpoint",
    "AWS::EC2::VPCGatewayAttachment",
    "AWS::ECR::Repository",
    "AWS::Elasticsearch::Domain",
    "AWS::Events::ApiDestination", "AWS::Events::Connection", "AWS::Events::EventBus",
    "AWS::Events::EventBusPolicy", "AWS::Events::Rule",
    "AWS::IAM::AccessKey", "AWS::IAM::Group", "AWS::IAM::InstanceProfile", "AWS::IAM::ManagedPolicy",
    "AWS::IAM::Policy", "AWS::IAM::Role", "AWS::IAM::ServerCertificate", "AWS::IAM::ServiceLinkedRole",
    "AWS::IAM::User",
    "AWS::Kinesis::Stream", "AWS::Kinesis::StreamConsumer",
    "AWS::KinesisFirehose::DeliveryStream",
    "AWS::KMS::Alias", "AWS::KMS::Key",
    "AWS::Lambda::Alias", "AWS::Lambda::CodeSigningConfig", "AWS::Lambda::EventInvokeConfig",
    "AWS::Lambda::EventSourceMapping", "AWS::Lambda::Function", "AWS::Lambda::LayerVersion",
    "AWS::Lambda::LayerVersionPermission", "AWS::Lambda::Permission", "AWS::Lambda::Url", "AWS::Lambda::Version",
    "AWS::Logs::LogGroup", "AWS::Logs::LogStream", "AWS::Logs::SubscriptionFilter",
    "AWS::OpenSearchService::Domain",
    "AWS::Redshift::Cluster",
    "AWS::ResourceGroups::Group",
    "AWS::Route53::HealthCheck", "AWS::Route53::RecordSet",
    "AWS::S3::Bucket", "AWS::S3::BucketPolicy",
    "AWS::Scheduler::Schedule", "AWS::Scheduler::ScheduleGroup",
    "AWS::SecretsManager::ResourcePolicy", "AWS::SecretsManager::RotationSchedule", "AWS::SecretsManager::Secret",
    "AWS::SecretsManager::SecretTargetAttachment",
    "AWS::SES::EmailIdentity",
    "AWS::SNS::Subscription", "AWS::SNS::Topic", "AWS::SNS::TopicPolicy",
    "AWS::SQS::Queue", "AWS::SQS::QueueInlinePolicy", "AWS::SQS::QueuePolicy",
    "AWS::SSM::MaintenanceWindow", "AWS::SSM::MaintenanceWindowTarget", "AWS::SSM::MaintenanceWindowTask",
    "AWS::SSM::Parameter", "AWS::SSM::PatchBaseline",
    "AWS::StepFunctions::Activity", "AWS::StepFunctions::StateMachine",
})

# Services absent from the community edition (the list), by type prefix.
MISSING_SERVICES: dict[str, str] = {
    "AWS::ECS::": "ECS",
    "AWS::ElasticLoadBalancingV2::": "Elastic Load Balancing v2",
    "AWS::ServiceDiscovery::": "Cloud Map",
    "AWS::WAFv2::": "WAFv2",
    "AWS::CodeDeploy::": "CodeDeploy",
    "AWS::ApplicationAutoScaling::": "Application Auto Scaling",
    "AWS::XRay::": "X-Ray",
}

# Custom resources run their provider function, which LocalStack does invoke.
CUSTOM_RESOURCE_TYPE = "AWS::CloudFormation::CustomResource"


def is_emulated(resource_type: str) -> bool:
    """True when LocalStack really creates resources of this type."""
    return resource_type in EMULATED_TYPES or resource_type == CUSTOM_RESOURCE_TYPE \
        or resource_type.startswith("Custom::")


def why_not_emulated(resource_type: str) -> str | None:
    """A detail line saying why a type is not emulated, or None when it is."""
    if is_emulated(resource_type):
        return None
    if resource_type == "AWS::EC2::EIP":
        return (f"LocalStack {LOCALSTACK_VERSION} community has no CloudFormation provider for AWS::EC2::EIP; "
                "stackgrade allocated a stand-in address through the EC2 API for the resources that use it")
    for prefix, service in MISSING_SERVICES.items():
        if resource_type.startswith(prefix):
            return f"{service} is not in LocalStack {LOCALSTACK_VERSION} community; {resource_type} is not created"
    return (f"LocalStack {LOCALSTACK_VERSION} community has no CloudFormation provider for {resource_type}; "
            "the stack reports it created but nothing exists")
