"""Template assertions for the order_processing_fargate reference system (seed 001).

The ideal variant carries the seed's iteration-1 monitoring (SNS topic + 8
alarms) on top of the functional iteration-0 system; the baseline is that
iteration 0: functional, but no topic, no monitoring alarms, no Container Insights.
"""

from __future__ import annotations

import subprocess

import pytest
from aws_cdk.assertions import Match

SYSTEM = "order_processing_fargate"
TOPIC_REF = {"Ref": Match.string_like_regexp("^AlertTopic")}

# The seed's eight alarms: name -> (metric, namespace, statistic, period, threshold,
# comparison, evaluation periods, treat missing data).
SEED_ALARMS = {
    "alb-unhealthy-target": ("UnHealthyHostCount", "AWS/ApplicationELB", "Average", 60, 1,
                             "GreaterThanOrEqualToThreshold", 2, "notBreaching"),
    "api-service-cpu-high": ("CPUUtilization", "AWS/ECS", "Average", 300, 80,
                             "GreaterThanThreshold", 2, "notBreaching"),
    "api-service-memory-high": ("MemoryUtilization", "AWS/ECS", "Average", 300, 80,
                                "GreaterThanThreshold", 2, "notBreaching"),
    "api-service-no-tasks": ("RunningTaskCount", "ECS/ContainerInsights", "Average", 60, 1,
                             "LessThanThreshold", 2, "breaching"),
    "worker-service-cpu-high": ("CPUUtilization", "AWS/ECS", "Average", 300, 80,
                                "GreaterThanThreshold", 2, "notBreaching"),
    "worker-service-memory-high": ("MemoryUtilization", "AWS/ECS", "Average", 300, 80,
                                   "GreaterThanThreshold", 2, "notBreaching"),
    "worker-service-no-tasks": ("RunningTaskCount", "ECS/ContainerInsights", "Average", 60, 1,
                                "LessThanThreshold", 2, "breaching"),
    "dlq-messages-detected": ("ApproximateNumberOfMessagesVisible", "AWS/SQS", "Sum", 60, 1,
                              "GreaterThanOrEqualToThreshold", 1, "notBreaching"),
}
# Production-rule alarms on the main queue (the seed is silent on them).
QUEUE_ALARMS = {
    "order-queue-age-high": ("ApproximateAgeOfOldestMessage", "AWS/SQS", "Maximum", 60, 300,
                             "GreaterThanThreshold", 3, "notBreaching"),
    "order-queue-depth-high": ("ApproximateNumberOfMessagesVisible", "AWS/SQS", "Maximum", 300, 1000,
                               "GreaterThanThreshold", 2, "notBreaching"),
}
# Properties that hold an explicit physical name, per resource type.
NAME_PROPERTIES = {
    "AWS::ECS::Cluster": "ClusterName",
    "AWS::ECS::Service": "ServiceName",
    "AWS::ECS::TaskDefinition": "Family",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::KMS::Alias": "AliasName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::SSM::Parameter": "Name",
    "AWS::ServiceDiscovery::PrivateDnsNamespace": "Name",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "Name",
    "AWS::ElasticLoadBalancingV2::TargetGroup": "Name",
    "AWS::CloudWatch::Alarm": "AlarmName",
}


@pytest.fixture(scope="module")
def ideal(reference_template):
    return reference_template(SYSTEM, "ideal")


@pytest.fixture(scope="module")
def baseline(reference_template):
    return reference_template(SYSTEM, "baseline")


def _only(template, resource_type, props=None):
    found = template.find_resources(resource_type, {"Properties": props} if props else None)
    assert len(found) == 1, f"expected one {resource_type} matching {props}, found {len(found)}"
    return next(iter(found.values()))


def _named_alarms(template):
    return {
        props["AlarmName"]: props
        for props in (r["Properties"] for r in template.find_resources("AWS::CloudWatch::Alarm").values())
        if "AlarmName" in props
    }


def _scaling_alarms(template):
    return [
        r["Properties"]
        for r in template.find_resources("AWS::CloudWatch::Alarm").values()
        if "AlarmName" not in r["Properties"]
    ]


def _policy_statements(template):
    return [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _as_list(value):
    return value if isinstance(value, list) else [value]


# -- both variants: the functional system of iteration 0 --------------------------------


@pytest.mark.parametrize("variant", ["ideal", "baseline"])
def test_vpc_spans_two_azs_with_one_nat_gateway(reference_template, variant):
    template = reference_template(SYSTEM, variant)
    template.resource_count_is("AWS::EC2::VPC", 1)
    template.resource_count_is("AWS::EC2::Subnet", 4)
    template.resource_count_is("AWS::EC2::NatGateway", 1)
    public = template.find_resources("AWS::EC2::Subnet", {"Properties": {"MapPublicIpOnLaunch": True}})
    assert len(public) == 2


@pytest.mark.parametrize("variant", ["ideal", "baseline"])
def test_api_and_worker_fargate_services_in_private_subnets(reference_template, variant, test_suffix):
    template = reference_template(SYSTEM, variant)
    template.resource_count_is("AWS::ECS::Cluster", 1)
    template.resource_count_is("AWS::ECS::Service", 2)
    for name, desired in (("order-api", 2), ("order-worker", 1)):
        template.has_resource_properties(
            "AWS::ECS::Service",
            {
                "ServiceName": f"{name}-{test_suffix}",
                "LaunchType": "FARGATE",
                "DesiredCount": desired,
                "NetworkConfiguration": {"AwsvpcConfiguration": {"AssignPublicIp": "DISABLED"}},
                "ServiceRegistries": [{"RegistryArn": Match.any_value()}],
            },
        )


@pytest.mark.parametrize("variant", ["ideal", "baseline"])
def test_task_definitions_use_registry_images_and_awslogs(reference_template, variant, test_suffix):
    template = reference_template(SYSTEM, variant)
    template.resource_count_is("AWS::ECS::TaskDefinition", 2)
    for family, image, prefix in (
        ("order-api", "public.ecr.aws/docker/library/nginx:stable", "api"),
        ("order-worker", "public.ecr.aws/aws-cli/aws-cli:2.17.0", "worker"),
    ):
        template.has_resource_properties(
            "AWS::ECS::TaskDefinition",
            {
                "Family": f"{family}-{test_suffix}",
                "RequiresCompatibilities": ["FARGATE"],
                "NetworkMode": "awsvpc",
                "Cpu": "256",
                "Memory": "512",
                "TaskRoleArn": Match.any_value(),
                "ContainerDefinitions": [
                    Match.object_like(
                        {
                            "Image": image,
                            "LogConfiguration": {
                                "LogDriver": "awslogs",
                                "Options": Match.object_like(
                                    {
                                        "awslogs-group": {"Ref": Match.string_like_regexp(f"^{prefix.capitalize()}LogGroup")},
                                        "awslogs-stream-prefix": prefix,
                                    }
                                ),
                            },
                            "Environment": Match.array_with(
                                [{"Name": "ORDER_QUEUE_URL", "Value": {"Ref": Match.string_like_regexp("^OrderQueue")}}]
                            ),
                        }
                    )
                ],
            },
        )


@pytest.mark.parametrize("variant", ["ideal", "baseline"])
def test_log_groups_expire_and_are_destroyed(reference_template, variant, test_suffix):
    template = reference_template(SYSTEM, variant)
    groups = template.find_resources("AWS::Logs::LogGroup")
    assert sorted(g["Properties"]["LogGroupName"] for g in groups.values()) == [
        f"/ecs/order-api-{test_suffix}",
        f"/ecs/order-worker-{test_suffix}",
    ]
    for group in groups.values():
        assert group["Properties"]["RetentionInDays"] == 30
        assert group["DeletionPolicy"] == "Delete"


@pytest.mark.parametrize("variant", ["ideal", "baseline"])
def test_order_queue_redrives_to_dlq(reference_template, variant, test_suffix):
    template = reference_template(SYSTEM, variant)
    template.resource_count_is("AWS::SQS::Queue", 2)
    main = _only(template, "AWS::SQS::Queue", {"QueueName": f"order-queue-{test_suffix}"})["Properties"]
    dlq = _only(template, "AWS::SQS::Queue", {"QueueName": f"order-dlq-{test_suffix}"})["Properties"]
    assert main["RedrivePolicy"]["maxReceiveCount"] == 3
    target = main["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"]
    assert target[0].startswith("OrderDlq") and target[1] == "Arn"
    assert main["VisibilityTimeout"] == 300
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert dlq["MessageRetentionPeriod"] >= main["MessageRetentionPeriod"]
    assert "RedrivePolicy" not in dlq
    for queue in template.find_resources("AWS::SQS::Queue").values():
        assert queue["DeletionPolicy"] == "Delete"


@pytest.mark.parametrize("variant", ["ideal", "baseline"])
def test_alb_routes_api_paths_to_health_checked_target_group(reference_template, variant, test_suffix):
    template = reference_template(SYSTEM, variant)
    template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        {"Scheme": "internet-facing", "Type": "application", "Name": f"order-alb-{test_suffix}"},
    )
    template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::Listener",
        {
            "Port": 80,
            "Protocol": "HTTP",
            "DefaultActions": [Match.object_like({"Type": "fixed-response"})],
        },
    )
    template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::ListenerRule",
        {
            "Priority": 10,
            "Conditions": [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/api/*"]}}],
            "Actions": [{"Type": "forward", "TargetGroupArn": {"Ref": Match.string_like_regexp("^ApiTargetGroup")}}],
        },
    )
    template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        {
            "Name": f"order-api-tg-{test_suffix}",
            "TargetType": "ip",
            "Port": 80,
            "HealthCheckPath": "/",
            "Matcher": {"HttpCode": "200"},
            "HealthyThresholdCount": 2,
            "UnhealthyThresholdCount": 3,
        },
    )
    template.has_resource_properties(
        "AWS::ECS::Service",
        {
            "ServiceName": f"order-api-{test_suffix}",
            "HealthCheckGracePeriodSeconds": 60,
            "LoadBalancers": [{"ContainerName": "api", "ContainerPort": 80, "TargetGroupArn": Match.any_value()}],
        },
    )


@pytest.mark.parametrize("variant", ["ideal", "baseline"])
def test_worker_step_scales_on_queue_depth(reference_template, variant):
    template = reference_template(SYSTEM, variant)
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        {"MinCapacity": 1, "MaxCapacity": 10, "ScalableDimension": "ecs:service:DesiredCount"},
    )
    policies = template.find_resources(
        "AWS::ApplicationAutoScaling::ScalingPolicy", {"Properties": {"PolicyType": "StepScaling"}}
    )
    assert len(policies) == 2
    scaling_alarms = _scaling_alarms(template)
    assert len(scaling_alarms) == 2
    for alarm in scaling_alarms:
        assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert alarm["Namespace"] == "AWS/SQS"
        assert alarm["Dimensions"][0]["Value"]["Fn::GetAtt"][0].startswith("OrderQueue")
        assert alarm["AlarmActions"][0]["Ref"] in policies
    assert sorted(a["Threshold"] for a in scaling_alarms) == [0, 100]


@pytest.mark.parametrize("variant", ["ideal", "baseline"])
def test_cloud_map_namespace_registers_both_services(reference_template, variant, test_suffix):
    template = reference_template(SYSTEM, variant)
    template.has_resource_properties(
        "AWS::ServiceDiscovery::PrivateDnsNamespace", {"Name": f"orders-{test_suffix}.local"}
    )
    for name in ("api", "worker"):
        template.has_resource_properties(
            "AWS::ServiceDiscovery::Service",
            {
                "Name": name,
                "NamespaceId": {"Fn::GetAtt": [Match.string_like_regexp("^Namespace"), "Id"]},
                "DnsConfig": Match.object_like({"DnsRecords": [{"Type": "A", "TTL": 30}]}),
            },
        )


@pytest.mark.parametrize("variant", ["ideal", "baseline"])
def test_task_roles_read_parameters_and_use_the_queue(reference_template, variant, test_suffix):
    template = reference_template(SYSTEM, variant)
    names = sorted(p["Properties"]["Name"] for p in template.find_resources("AWS::SSM::Parameter").values())
    assert names == [
        f"/order-processing/{test_suffix}/{n}" for n in ("log-level", "order-queue-url", "worker-batch-size")
    ]
    policies = template.find_resources("AWS::IAM::Policy")
    by_role = {p["Properties"]["Roles"][0]["Ref"]: p["Properties"]["PolicyDocument"]["Statement"] for p in policies.values()}
    api = next(v for k, v in by_role.items() if k.startswith("ApiTaskRole"))
    worker = next(v for k, v in by_role.items() if k.startswith("WorkerTaskRole"))
    for statements, sqs_actions in ((api, {"sqs:SendMessage"}), (worker, {"sqs:ReceiveMessage", "sqs:DeleteMessage"})):
        ssm = [s for s in statements if "ssm:GetParameter" in _as_list(s["Action"])]
        assert len(ssm) == 3, "one read grant per parameter"
        queue = [s for s in statements if any(a.startswith("sqs:") for a in _as_list(s["Action"]))]
        assert sqs_actions <= set(queue[0]["Action"])
        assert queue[0]["Resource"]["Fn::GetAtt"][0].startswith("OrderQueue")
    assert not any("sqs:SendMessage" in _as_list(s["Action"]) for s in worker)


@pytest.mark.parametrize("variant", ["ideal", "baseline"])
def test_no_wildcard_iam(reference_template, variant):
    for statement in _policy_statements(reference_template(SYSTEM, variant)):
        actions = _as_list(statement["Action"])
        assert "*" not in actions and not any(a.endswith(":*") for a in actions)
        assert "*" not in _as_list(statement["Resource"])
    template = reference_template(SYSTEM, variant)
    for role in template.find_resources("AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]


@pytest.mark.parametrize("variant", ["ideal", "baseline"])
def test_outputs_have_descriptions_and_suffixed_exports(reference_template, variant, test_suffix):
    outputs = reference_template(SYSTEM, variant).find_outputs("*")
    for output_id in (
        "LoadBalancerDns", "ApiUrl", "ClusterName", "ApiServiceName", "WorkerServiceName",
        "OrderQueueUrl", "OrderQueueArn", "OrderDlqUrl", "OrderDlqArn", "NamespaceName",
    ):
        assert output_id in outputs
    for output in outputs.values():
        assert output["Description"]
        assert test_suffix in output["Export"]["Name"]
    assert outputs["OrderQueueUrl"]["Export"]["Name"] == f"orders-fargate-order-queue-url-{test_suffix}"
    assert outputs["OrderDlqArn"]["Export"]["Name"] == f"orders-fargate-order-dlq-arn-{test_suffix}"


@pytest.mark.parametrize(("variant", "expected"), [("ideal", 27), ("baseline", 15)])
def test_every_explicit_name_carries_the_suffix(reference_template, variant, expected, test_suffix):
    template = reference_template(SYSTEM, variant)
    checked = 0
    for resource_type, prop in NAME_PROPERTIES.items():
        for resource in template.find_resources(resource_type).values():
            if prop in resource["Properties"]:
                assert test_suffix in resource["Properties"][prop], (resource_type, resource["Properties"][prop])
                checked += 1
    assert checked == expected  # the ideal adds topic, key alias and 10 named alarms


def test_worker_script_polls_and_deletes_and_is_valid_shell():
    from reference_stacks.order_processing_fargate.stack import WORKER_SCRIPT

    assert "aws sqs receive-message" in WORKER_SCRIPT
    assert "aws sqs delete-message" in WORKER_SCRIPT
    assert "$BATCH_SIZE_PARAMETER" in WORKER_SCRIPT
    assert subprocess.run(["sh", "-n", "-c", WORKER_SCRIPT], check=False).returncode == 0


# -- ideal: iteration 1's monitoring plus the production rules -------------------------


def test_ideal_resource_counts(ideal):
    ideal.resource_count_is("AWS::CloudWatch::Alarm", 12)  # 8 seed + 2 queue + 2 auto-scaling
    ideal.resource_count_is("AWS::SNS::Topic", 1)
    ideal.resource_count_is("AWS::KMS::Key", 1)
    ideal.resource_count_is("AWS::SQS::QueuePolicy", 2)
    ideal.resource_count_is("AWS::SNS::Subscription", 0)


def test_ideal_cluster_has_container_insights(ideal, test_suffix):
    ideal.has_resource_properties(
        "AWS::ECS::Cluster",
        {"ClusterName": f"order-processing-{test_suffix}",
         "ClusterSettings": [{"Name": "containerInsights", "Value": "enabled"}]},
    )


def test_ideal_alert_topic_is_named_and_encrypted(ideal, test_suffix):
    ideal.has_resource_properties(
        "AWS::SNS::Topic",
        {
            "TopicName": f"order-processing-alerts-{test_suffix}",
            "DisplayName": "Order Processing System Alerts",
            "KmsMasterKeyId": {"Fn::GetAtt": [Match.string_like_regexp("^AlertTopicKey"), "Arn"]},
        },
    )
    key = _only(ideal, "AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Delete"
    cloudwatch_grant = [
        s for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert set(cloudwatch_grant[0]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    ideal.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {"PolicyDocument": {"Statement": [Match.object_like(
            {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
        )]}},
    )


@pytest.mark.parametrize("base", sorted({**SEED_ALARMS, **QUEUE_ALARMS}))
def test_ideal_alarm_settings_and_topic_action(ideal, test_suffix, base):
    metric, namespace, statistic, period, threshold, operator, periods, missing = (
        {**SEED_ALARMS, **QUEUE_ALARMS}[base]
    )
    ideal.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": f"{base}-{test_suffix}",
            "AlarmDescription": Match.any_value(),
            "MetricName": metric,
            "Namespace": namespace,
            "Statistic": statistic,
            "Period": period,
            "Threshold": threshold,
            "ComparisonOperator": operator,
            "EvaluationPeriods": periods,
            "TreatMissingData": missing,
            "AlarmActions": [TOPIC_REF],
        },
    )


def test_ideal_every_monitoring_alarm_notifies_the_topic(ideal, test_suffix):
    named = _named_alarms(ideal)
    assert set(named) == {f"{base}-{test_suffix}" for base in {**SEED_ALARMS, **QUEUE_ALARMS}}
    for props in named.values():
        assert len(props["AlarmActions"]) == 1
        assert props["AlarmActions"][0]["Ref"].startswith("AlertTopic")


def test_ideal_alarm_dimensions_point_at_the_right_resources(ideal, test_suffix):
    named = _named_alarms(ideal)
    api_dims = {d["Name"]: d["Value"] for d in named[f"api-service-no-tasks-{test_suffix}"]["Dimensions"]}
    assert api_dims["ServiceName"]["Fn::GetAtt"][0].startswith("ApiService")
    assert api_dims["ClusterName"]["Ref"].startswith("Cluster")
    worker_dims = named[f"worker-service-cpu-high-{test_suffix}"]["Dimensions"]
    assert worker_dims[1]["Value"]["Fn::GetAtt"][0].startswith("WorkerService")
    dlq_dims = named[f"dlq-messages-detected-{test_suffix}"]["Dimensions"]
    assert dlq_dims[0]["Value"]["Fn::GetAtt"][0].startswith("OrderDlq")
    tg_dims = {d["Name"]: d["Value"] for d in named[f"alb-unhealthy-target-{test_suffix}"]["Dimensions"]}
    assert tg_dims["TargetGroup"]["Fn::GetAtt"][0].startswith("ApiTargetGroup")


def test_ideal_sns_topic_arn_output_matches_the_seed(ideal, test_suffix):
    ideal.has_output(
        "SNSTopicArn",
        {
            "Value": {"Ref": Match.string_like_regexp("^AlertTopic")},
            "Description": "SNS Topic ARN for alerts",
            "Export": {"Name": f"alert-topic-arn-{test_suffix}"},
        },
    )


def test_ideal_queues_are_encrypted_and_tls_only(ideal):
    for queue in ideal.find_resources("AWS::SQS::Queue").values():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
    policies = ideal.find_resources("AWS::SQS::QueuePolicy")
    for policy in policies.values():
        statement = policy["Properties"]["PolicyDocument"]["Statement"][0]
        assert statement["Effect"] == "Deny"
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_ideal_deployments_roll_back_and_alb_drops_invalid_headers(ideal):
    services = ideal.find_resources("AWS::ECS::Service")
    for service in services.values():
        assert service["Properties"]["DeploymentConfiguration"]["DeploymentCircuitBreaker"] == {
            "Enable": True, "Rollback": True,
        }
    attributes = _only(ideal, "AWS::ElasticLoadBalancingV2::LoadBalancer")["Properties"]["LoadBalancerAttributes"]
    assert {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"} in attributes


# -- baseline: iteration 0 lacked all monitoring --------------------------------------


def test_baseline_has_no_topic_and_only_scaling_alarms(baseline):
    baseline.resource_count_is("AWS::SNS::Topic", 0)
    baseline.resource_count_is("AWS::KMS::Key", 0)
    baseline.resource_count_is("AWS::CloudWatch::Alarm", 2)
    assert _named_alarms(baseline) == {}
    assert "SNSTopicArn" not in baseline.find_outputs("*")


def test_baseline_has_no_container_insights(baseline):
    cluster = _only(baseline, "AWS::ECS::Cluster")["Properties"]
    assert "ClusterSettings" not in cluster


def test_baseline_lacks_the_production_rule_hardening(baseline):
    for queue in baseline.find_resources("AWS::SQS::Queue").values():
        assert "SqsManagedSseEnabled" not in queue["Properties"]
        assert "KmsMasterKeyId" not in queue["Properties"]
    baseline.resource_count_is("AWS::SQS::QueuePolicy", 0)
    for service in baseline.find_resources("AWS::ECS::Service").values():
        assert "DeploymentCircuitBreaker" not in service["Properties"]["DeploymentConfiguration"]
    attributes = _only(baseline, "AWS::ElasticLoadBalancingV2::LoadBalancer")["Properties"].get(
        "LoadBalancerAttributes", []
    )
    assert not any(a["Key"] == "routing.http.drop_invalid_header_fields.enabled" for a in attributes)


# -- context switches ------------------------------------------------------------------


def test_enable_alarms_false_drops_topic_and_monitoring_from_ideal(reference_template):
    template = reference_template(SYSTEM, "ideal", enable_alarms="false")
    template.resource_count_is("AWS::SNS::Topic", 0)
    template.resource_count_is("AWS::CloudWatch::Alarm", 2)
    assert "SNSTopicArn" not in template.find_outputs("*")
    # Container Insights is part of the ideal even without alarms.
    assert "ClusterSettings" in _only(template, "AWS::ECS::Cluster")["Properties"]


def test_enable_alarms_true_does_not_add_monitoring_to_baseline(reference_template):
    template = reference_template(SYSTEM, "baseline", enable_alarms="true")
    template.resource_count_is("AWS::SNS::Topic", 0)
    template.resource_count_is("AWS::CloudWatch::Alarm", 2)


def test_alarm_email_and_image_overrides(reference_template):
    template = reference_template(
        SYSTEM, "ideal",
        alarm_email="ops@example.com",
        api_image="public.ecr.aws/docker/library/httpd:2.4",
        worker_image="public.ecr.aws/docker/library/python:3.12-slim",
    )
    template.has_resource_properties(
        "AWS::SNS::Subscription",
        {"Protocol": "email", "Endpoint": "ops@example.com", "TopicArn": TOPIC_REF},
    )
    for image in ("public.ecr.aws/docker/library/httpd:2.4", "public.ecr.aws/docker/library/python:3.12-slim"):
        template.has_resource_properties(
            "AWS::ECS::TaskDefinition",
            {"ContainerDefinitions": [Match.object_like({"Image": image})]},
        )


def test_invalid_enable_alarms_value_is_rejected(reference_stack):
    with pytest.raises(ValueError, match="enable_alarms"):
        reference_stack(SYSTEM, "ideal", enable_alarms="maybe")
