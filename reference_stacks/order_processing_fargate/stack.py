"""Order processing on ECS Fargate (seed 001_cf46334840aeeb51).

Seed items and how each variant covers them:

- VPC over 2 AZs, 1 NAT gateway (cost): both.
- ECS cluster: both; Container Insights only in ``ideal`` (it publishes the
  RunningTaskCount metric the no-tasks alarms watch).
- API and worker Fargate services, images from a registry, ``awslogs`` to log
  groups with retention: both.
- Internet-facing ALB, ``/api/*`` routed to the API target group with health
  checks: both.
- Order queue with a DLQ (maxReceiveCount 3, DLQ kept 14 days): both; SQS-managed
  encryption and TLS-only queue policies only in ``ideal`` (production rules).
- Worker step scaling on queue depth (its 2 auto-scaling alarms): both.
- Cloud Map private DNS namespace, both services registered: both.
- SSM parameters, task roles reading them and using the queue: both.
- SNS topic ``order-processing-alerts-<suffix>`` + 8 alarms with SnsAction
  (``monitoring.py``) and the ``SNSTopicArn`` output: ``ideal`` only (the
  seed's iteration-1 fix); ``ideal`` adds main-queue age and depth alarms.
  Context ``enable_alarms=false`` drops topic and monitoring alarms from ``ideal``;
  ``alarm_email=<address>`` subscribes an address to the topic.
- Deployment circuit breaker with rollback, ALB dropping invalid headers:
  ``ideal`` only (production rules the seed is silent on).

Other context: ``api_image`` / ``worker_image`` replace the registry images.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_servicediscovery as servicediscovery
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from reference_stacks.common import (
    ReferenceStack,
    acknowledge,
    acknowledge_dead_letter_queue,
    add_outputs,
    alarm_email,
    context_flag,
    expiring_log_group,
    named,
)
from reference_stacks.order_processing_fargate.monitoring import (
    MonitoredService,
    add_alarms,
    alert_topic,
)

EXPORT_PREFIX = "orders-fargate"
DEFAULT_API_IMAGE = "public.ecr.aws/docker/library/nginx:stable"
DEFAULT_WORKER_IMAGE = "public.ecr.aws/aws-cli/aws-cli:2.17.0"
API_PORT = 80
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
DLQ_MAX_RECEIVE_COUNT = 3
# Long enough for a worker to finish a batch before the message reappears.
WORKER_VISIBILITY_TIMEOUT = cdk.Duration.minutes(5)
WORKER_MIN_TASKS = 1
WORKER_MAX_TASKS = 10

# The worker: long-poll the queue, process, delete. Batch size comes from Parameter Store.
# A message that is not deleted reappears after the visibility timeout; after
# DLQ_MAX_RECEIVE_COUNT receives SQS moves it to the DLQ.
WORKER_SCRIPT = """\
set -u
BATCH_SIZE=$(aws ssm get-parameter --name "$BATCH_SIZE_PARAMETER" --query Parameter.Value --output text) || exit 1
echo "order worker polling $ORDER_QUEUE_URL in batches of $BATCH_SIZE"
while true; do
  HANDLES=$(aws sqs receive-message --queue-url "$ORDER_QUEUE_URL" --max-number-of-messages "$BATCH_SIZE" \\
    --wait-time-seconds 20 --query 'Messages[].ReceiptHandle' --output text) \\
    || { echo "receive failed, retrying"; sleep 5; continue; }
  for HANDLE in $HANDLES; do
    [ "$HANDLE" = "None" ] && continue
    echo "processed order message"
    aws sqs delete-message --queue-url "$ORDER_QUEUE_URL" --receipt-handle "$HANDLE"
  done
done
"""


class OrderProcessingFargateStack(ReferenceStack):
    """API and worker Fargate services behind an ALB, fed by an SQS order queue."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        ideal = self.ideal
        suffix = self.environment_suffix

        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=1,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(
                    name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=24
                ),
            ],
        )
        self.namespace = servicediscovery.PrivateDnsNamespace(
            self,
            "Namespace",
            name=f"{named('orders', suffix)}.local",
            vpc=self.vpc,
            description="Service discovery for the order processing services",
        )
        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            cluster_name=named("order-processing", suffix),
            vpc=self.vpc,
            container_insights_v2=ecs.ContainerInsights.ENABLED if ideal else None,
        )

        self._build_queues(ideal)
        self._build_parameters()
        self._build_api_service(ideal)
        self._build_worker_service(ideal)
        self._build_load_balancer(ideal)
        self._build_worker_scaling()

        self.alert_topic = None
        self.alarms: list = []
        if ideal and context_flag(self, "enable_alarms", True):
            self.alert_topic = alert_topic(self, suffix, alarm_email(self))
            self.alarms = add_alarms(
                self,
                environment_suffix=suffix,
                topic=self.alert_topic,
                cluster=self.cluster,
                services=[
                    MonitoredService("api", "API", self.api_service),
                    MonitoredService("worker", "Worker", self.worker_service),
                ],
                api_target_group=self.api_target_group,
                queue=self.order_queue,
                dlq=self.order_dlq,
            )
            # Plain CfnOutput: the seed exports this one as alert-topic-arn-<suffix>.
            cdk.CfnOutput(
                self,
                "SNSTopicArn",
                value=self.alert_topic.topic_arn,
                description="SNS Topic ARN for alerts",
                export_name=named("alert-topic-arn", suffix),
            )
        self._add_outputs()

    # -- messaging and configuration -------------------------------------------------

    def _build_queues(self, ideal: bool) -> None:
        suffix = self.environment_suffix
        # Encryption and TLS-only policies are production rules; the first version set neither.
        encryption = sqs.QueueEncryption.SQS_MANAGED if ideal else None
        self.order_dlq = sqs.Queue(
            self,
            "OrderDlq",
            queue_name=named("order-dlq", suffix),
            retention_period=cdk.Duration.days(14),
            encryption=encryption,
            enforce_ssl=ideal,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        acknowledge_dead_letter_queue(self.order_dlq, "the order queue")
        self.order_queue = sqs.Queue(
            self,
            "OrderQueue",
            queue_name=named("order-queue", suffix),
            visibility_timeout=WORKER_VISIBILITY_TIMEOUT,
            retention_period=cdk.Duration.days(4),
            encryption=encryption,
            enforce_ssl=ideal,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.order_dlq, max_receive_count=DLQ_MAX_RECEIVE_COUNT
            ),
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )

    def _build_parameters(self) -> None:
        prefix = f"/order-processing/{self.environment_suffix}"
        self.queue_url_parameter = ssm.StringParameter(
            self,
            "QueueUrlParameter",
            parameter_name=f"{prefix}/order-queue-url",
            string_value=self.order_queue.queue_url,
            description="URL of the order queue",
        )
        self.batch_size_parameter = ssm.StringParameter(
            self,
            "BatchSizeParameter",
            parameter_name=f"{prefix}/worker-batch-size",
            string_value="10",
            description="Messages a worker receives per poll (1-10)",
        )
        self.log_level_parameter = ssm.StringParameter(
            self,
            "LogLevelParameter",
            parameter_name=f"{prefix}/log-level",
            string_value="INFO",
            description="Log level of the order services",
        )
        self.parameters = [
            self.queue_url_parameter,
            self.batch_size_parameter,
            self.log_level_parameter,
        ]

    # -- services ---------------------------------------------------------------------

    def _task_role(self, construct_id: str, description: str) -> iam.Role:
        role = iam.Role(
            self,
            construct_id,
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description=description,
        )
        for parameter in self.parameters:
            parameter.grant_read(role)
        return role

    def _log_group(self, construct_id: str, name: str) -> logs.LogGroup:
        return expiring_log_group(
            self, construct_id, log_group_name=f"/ecs/{named(name, self.environment_suffix)}", retention=LOG_RETENTION
        )

    def _environment(self) -> dict[str, str]:
        return {
            "ORDER_QUEUE_URL": self.order_queue.queue_url,
            "QUEUE_URL_PARAMETER": self.queue_url_parameter.parameter_name,
            "BATCH_SIZE_PARAMETER": self.batch_size_parameter.parameter_name,
            "LOG_LEVEL_PARAMETER": self.log_level_parameter.parameter_name,
            "ENVIRONMENT_SUFFIX": self.environment_suffix,
        }

    def _fargate_service(
        self,
        construct_id: str,
        *,
        name: str,
        task_definition: ecs.FargateTaskDefinition,
        desired_count: int,
        ideal: bool,
        **kwargs,
    ) -> ecs.FargateService:
        return ecs.FargateService(
            self,
            construct_id,
            service_name=named(name, self.environment_suffix),
            cluster=self.cluster,
            task_definition=task_definition,
            desired_count=desired_count,
            assign_public_ip=False,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            cloud_map_options=ecs.CloudMapOptions(
                name=name.removeprefix("order-"),
                cloud_map_namespace=self.namespace,
                dns_record_type=servicediscovery.DnsRecordType.A,
                dns_ttl=cdk.Duration.seconds(30),
            ),
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True) if ideal else None,
            min_healthy_percent=100,
            **kwargs,
        )

    def _task_definition(
        self,
        kind: str,
        name: str,
        role: iam.Role,
        log_group: logs.LogGroup,
        default_image: str,
        **container_options,
    ) -> ecs.FargateTaskDefinition:
        """256 CPU units, 512 MiB, one essential container ``kind`` (image from context ``<kind>_image``)."""
        task_definition = ecs.FargateTaskDefinition(
            self,
            f"{kind.capitalize()}TaskDefinition",
            family=named(name, self.environment_suffix),
            cpu=256,
            memory_limit_mib=512,
            task_role=role,
        )
        task_definition.add_container(
            kind,
            image=ecs.ContainerImage.from_registry(self.node.try_get_context(f"{kind}_image") or default_image),
            environment=self._environment(),
            logging=ecs.LogDrivers.aws_logs(stream_prefix=kind, log_group=log_group),
            essential=True,
            **container_options,
        )
        return task_definition

    def _build_api_service(self, ideal: bool) -> None:
        self.api_task_role = self._task_role("ApiTaskRole", "Order API tasks: read config, enqueue orders")
        self.order_queue.grant_send_messages(self.api_task_role)
        self.api_log_group = self._log_group("ApiLogGroup", "order-api")
        self.api_task_definition = self._task_definition(
            "api",
            "order-api",
            self.api_task_role,
            self.api_log_group,
            DEFAULT_API_IMAGE,
            port_mappings=[ecs.PortMapping(container_port=API_PORT)],
        )
        self.api_service = self._fargate_service(
            "ApiService",
            name="order-api",
            task_definition=self.api_task_definition,
            desired_count=2,
            ideal=ideal,
            health_check_grace_period=cdk.Duration.seconds(60),
        )

    def _build_worker_service(self, ideal: bool) -> None:
        self.worker_task_role = self._task_role(
            "WorkerTaskRole", "Order worker tasks: read config, consume orders"
        )
        self.order_queue.grant_consume_messages(self.worker_task_role)
        self.worker_log_group = self._log_group("WorkerLogGroup", "order-worker")
        self.worker_task_definition = self._task_definition(
            "worker",
            "order-worker",
            self.worker_task_role,
            self.worker_log_group,
            DEFAULT_WORKER_IMAGE,
            entry_point=["/bin/sh", "-c"],
            command=[WORKER_SCRIPT],
        )
        self.worker_service = self._fargate_service(
            "WorkerService",
            name="order-worker",
            task_definition=self.worker_task_definition,
            desired_count=WORKER_MIN_TASKS,
            ideal=ideal,
        )

    def _build_load_balancer(self, ideal: bool) -> None:
        suffix = self.environment_suffix
        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "LoadBalancer",
            load_balancer_name=named("order-alb", suffix),
            vpc=self.vpc,
            internet_facing=True,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            drop_invalid_header_fields=True if ideal else None,
        )
        acknowledge(
            self.load_balancer.connections.security_groups[0],
            "the internet-facing ALB is the public entry of the order API (seed 001), so its security group admits "
            "0.0.0.0/0, on the listener port 80 only; the services admit traffic only from this security group",
            nag=("AwsSolutions-EC23",),
            checkov=("CKV_AWS_260",),
        )
        self.listener = self.load_balancer.add_listener(
            "HttpListener",
            port=80,
            open=True,
            default_action=elbv2.ListenerAction.fixed_response(
                404, content_type="application/json", message_body='{"error": "not found"}'
            ),
        )
        self.api_target_group = elbv2.ApplicationTargetGroup(
            self,
            "ApiTargetGroup",
            target_group_name=named("order-api-tg", suffix),
            vpc=self.vpc,
            port=API_PORT,
            protocol=elbv2.ApplicationProtocol.HTTP,
            target_type=elbv2.TargetType.IP,
            targets=[self.api_service],
            deregistration_delay=cdk.Duration.seconds(30),
            health_check=elbv2.HealthCheck(
                path="/",
                healthy_http_codes="200",
                interval=cdk.Duration.seconds(30),
                timeout=cdk.Duration.seconds(5),
                healthy_threshold_count=2,
                unhealthy_threshold_count=3,
            ),
        )
        self.listener.add_target_groups(
            "ApiRoute",
            priority=10,
            conditions=[elbv2.ListenerCondition.path_patterns(["/api/*"])],
            target_groups=[self.api_target_group],
        )

    def _build_worker_scaling(self) -> None:
        """Step scaling on visible messages: this makes the two auto-scaling alarms."""
        scaling = self.worker_service.auto_scale_task_count(
            min_capacity=WORKER_MIN_TASKS, max_capacity=WORKER_MAX_TASKS
        )
        scaling.scale_on_metric(
            "QueueDepthScaling",
            metric=self.order_queue.metric_approximate_number_of_messages_visible(
                statistic="Maximum", period=cdk.Duration.minutes(1)
            ),
            scaling_steps=[
                appscaling.ScalingInterval(upper=0, change=-1),
                appscaling.ScalingInterval(lower=100, change=1),
                appscaling.ScalingInterval(lower=500, change=3),
            ],
            adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
            cooldown=cdk.Duration.minutes(2),
        )

    # -- outputs ----------------------------------------------------------------------

    def _add_outputs(self) -> None:
        outputs = {
            "VpcId": (self.vpc.vpc_id, "VPC of the order services"),
            "LoadBalancerDns": (self.load_balancer.load_balancer_dns_name, "Public DNS name of the ALB"),
            "LoadBalancerArn": (self.load_balancer.load_balancer_arn, "ARN of the ALB"),
            "ApiUrl": (
                f"http://{self.load_balancer.load_balancer_dns_name}/api/",
                "Base URL of the order API (path /api/* routes to the API service)",
            ),
            "ApiTargetGroupArn": (self.api_target_group.target_group_arn, "ARN of the API target group"),
            "ClusterName": (self.cluster.cluster_name, "ECS cluster name"),
            "ClusterArn": (self.cluster.cluster_arn, "ECS cluster ARN"),
            "ApiServiceName": (self.api_service.service_name, "ECS API service name"),
            "WorkerServiceName": (self.worker_service.service_name, "ECS worker service name"),
            "OrderQueueUrl": (self.order_queue.queue_url, "URL of the order queue"),
            "OrderQueueArn": (self.order_queue.queue_arn, "ARN of the order queue"),
            "OrderDlqUrl": (self.order_dlq.queue_url, "URL of the order dead-letter queue"),
            "OrderDlqArn": (self.order_dlq.queue_arn, "ARN of the order dead-letter queue"),
            "NamespaceName": (self.namespace.namespace_name, "Cloud Map private DNS namespace"),
            "NamespaceId": (self.namespace.namespace_id, "Cloud Map namespace id"),
            "ApiLogGroupName": (self.api_log_group.log_group_name, "Log group of the API service"),
            "WorkerLogGroupName": (self.worker_log_group.log_group_name, "Log group of the worker service"),
            "ConfigParameterPrefix": (
                f"/order-processing/{self.environment_suffix}/",
                "Parameter Store path holding the services' configuration",
            ),
        }
        add_outputs(
            self,
            ((output_id, value, description) for output_id, (value, description) in outputs.items()),
            export_prefix=EXPORT_PREFIX,
            environment_suffix=self.environment_suffix,
        )
