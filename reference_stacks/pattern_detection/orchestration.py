"""OrchestrationStack: the pattern-analysis and power-tuning workflows and their EventBridge rules."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from reference_stacks.common import Variant, acknowledge_iam_wildcard, acknowledge_key_grant, dead_letter_queue

from .base import PatternNestedStack
from .compute import ComputeStack
from .data import DataStack

PATTERN_BRANCHES = ("head-and-shoulders", "double-top", "ascending-triangle")
POWER_TUNING_MEMORY_SIZES = [512, 1024, 1536, 2048, 3008]
DETECTOR_MEMORY_SIZE = 1024
TRIGGER_SOURCE = "stock.pattern.detection"
TRIGGER_DETAIL_TYPE = "PatternAnalysisRequested"
# Step Functions' CloudWatch Logs delivery and X-Ray APIs take no resource ARNs.
WORKFLOW_WILDCARD_REASON = (
    "CDK's grants for the workflow's logging (logs:CreateLogDelivery, GetLogDelivery, UpdateLogDelivery, "
    "DeleteLogDelivery, ListLogDeliveries, PutResourcePolicy, DescribeResourcePolicies, DescribeLogGroups) and "
    "X-Ray tracing (xray:PutTraceSegments, PutTelemetryRecords, GetSamplingRules, GetSamplingTargets): these "
    "actions support no resource-level permissions, so IAM accepts only Resource \"*\""
)
# The seed's retry policy for every Task state: 3 attempts, 2 s apart, doubling.
RETRY = {"max_attempts": 3, "backoff_rate": 2.0, "interval": cdk.Duration.seconds(2)}


class OrchestrationStack(PatternNestedStack):
    """Workflows over the compute stack's functions."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        variant: Variant,
        environment_suffix: str,
        data: DataStack,
        compute: ComputeStack,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            variant=variant,
            environment_suffix=environment_suffix,
            description="Pattern detection orchestration: Step Functions and EventBridge",
        )
        if self.ideal:
            self._build_ideal(data, compute)
        else:
            self._build_baseline()

    # --- shared by both variants ----------------------------------------------------------------

    def _invoke(self, state_id: str, function: lambda_.IFunction, payload: dict, **options) -> tasks.LambdaInvoke:
        task = tasks.LambdaInvoke(
            self,
            state_id,
            lambda_function=function,
            payload=sfn.TaskInput.from_object(payload),
            payload_response_only=True,
            retry_on_service_exceptions=False,
            **options,
        )
        if self.ideal:
            task.add_retry(**RETRY)
        return task

    def _analysis_chain(self, detector: lambda_.IFunction, manual_review: sfn.IChainable | None) -> sfn.IChainable:
        """DataValidation -> Parallel(3 detectors) -> ConfidenceScoring -> AlertDecision."""
        series = {"symbol.$": "$.symbol", "prices.$": "$.prices"}
        validation = self._invoke("DataValidation", detector, {"action": "validate", **series})
        parallel = sfn.Parallel(self, "ParallelPatternDetection", result_path="$.detections")
        for pattern_type in PATTERN_BRANCHES:
            detect = self._invoke(
                f"Detect-{pattern_type}", detector, {"action": "detect", "patternType": pattern_type, **series}
            )
            if manual_review is not None:
                # A Catch inside a branch can only reach that branch: fail it, the Parallel catches.
                detect.add_catch(sfn.Fail(self, f"{pattern_type}-failed", error="PatternDetectionFailed"))
            parallel.branch(detect)
        scoring = self._invoke(
            "ConfidenceScoring",
            detector,
            {"action": "score", "symbol.$": "$.symbol", "detections.$": "$.detections"},
        )
        decision = self._invoke(
            "AlertDecision",
            detector,
            {"action": "decide", "symbol.$": "$.symbol", "patternType.$": "$.patternType",
             "confidence.$": "$.confidence"},
        )
        if manual_review is not None:
            parallel.add_retry(**RETRY)
            for state in (validation, parallel, scoring, decision):
                state.add_catch(manual_review, result_path="$.error")
        return validation.next(parallel).next(scoring).next(decision)

    # --- ideal ---------------------------------------------------------------------------------

    def _build_ideal(self, data: DataStack, compute: ComputeStack) -> None:
        detector = compute.detector_alias
        manual_review = tasks.SnsPublish(
            self,
            "ManualReview",
            topic=data.approval_topic,
            subject="Pattern analysis needs manual review",
            message=sfn.TaskInput.from_json_path_at("$"),
        )
        manual_review.add_retry(**RETRY)
        manual_review.add_catch(sfn.Fail(self, "ManualReviewFailed", error="ManualReviewUnavailable"))
        queue_alert = tasks.SqsSendMessage(
            self, "QueueAlert", queue=data.alert_queue, message_body=sfn.TaskInput.from_json_path_at("$")
        )
        queue_alert.add_retry(**RETRY)
        queue_alert.add_catch(manual_review, result_path="$.error")
        definition = self._analysis_chain(detector, manual_review).next(
            sfn.Choice(self, "ShouldAlert")
            .when(sfn.Condition.boolean_equals("$.shouldAlert", True), queue_alert)
            .otherwise(sfn.Succeed(self, "NoAlert"))
        )
        self.analysis_workflow = self._observed_state_machine(
            "PatternAnalysisWorkflow", "AnalysisLogs", definition, sfn.StateMachineType.EXPRESS, cdk.Duration.minutes(5)
        )
        # Publishing to the KMS-encrypted approval topic (ManualReview) needs the key.
        data.key.grant(self.analysis_workflow, "kms:Decrypt", "kms:GenerateDataKey*")
        acknowledge_key_grant(self.analysis_workflow.role, "publish ManualReview messages to the encrypted approval topic")
        self.power_tuning_workflow = self._power_tuning(compute.functions["pattern-detector"])
        for workflow in (self.analysis_workflow, self.power_tuning_workflow):
            acknowledge_iam_wildcard(workflow.role, "Resource::*", WORKFLOW_WILDCARD_REASON)
        self.events_dlq = dead_letter_queue(
            self,
            "EventTargetDLQ",
            queue_name=self.name("PatternEventTargetDLQ"),
            dead_letter_of="the EventBridge rules' targets (threshold-check schedule, pattern-analysis trigger)",
        )
        target_options = {
            "dead_letter_queue": self.events_dlq,
            "retry_attempts": 3,
            "max_event_age": cdk.Duration.hours(2),
        }
        self.threshold_rule = events.Rule(
            self,
            "ThresholdCheckRule",
            rule_name=self.name("threshold-check"),
            description="Runs the threshold checker every 5 minutes",
            schedule=events.Schedule.rate(cdk.Duration.minutes(5)),
            targets=[targets.LambdaFunction(compute.functions["threshold-checker"], **target_options)],
        )
        self.trigger_rule = events.Rule(
            self,
            "PatternAnalysisTriggerRule",
            rule_name=self.name("pattern-analysis-trigger"),
            description="Starts the pattern analysis workflow for market-data batches",
            event_pattern=events.EventPattern(
                source=[TRIGGER_SOURCE],
                detail_type=[TRIGGER_DETAIL_TYPE],
                detail={"symbol": [{"exists": True}], "prices": [{"exists": True}]},
            ),
            targets=[
                targets.SfnStateMachine(
                    self.analysis_workflow, input=events.RuleTargetInput.from_event_path("$.detail"), **target_options
                )
            ],
        )

    def _power_tuning(self, detector: lambda_.Function) -> sfn.StateMachine:
        """Benchmark the detector's $LATEST at each memory size, restore it, recommend the cheapest.

        The 'live' alias serves a published version, so production traffic never runs at a trial size.
        """
        failed = sfn.Fail(self, "PowerTuningFailed", error="PowerTuningFailed")
        # Invoked as <function>:$LATEST, so the grant names that version instead of <function>:* (all of them).
        latest = detector.latest_version

        def resilient(task: sfn.TaskStateBase, catch_to: sfn.IChainable) -> sfn.TaskStateBase:
            task.add_retry(**RETRY)
            task.add_catch(catch_to, result_path="$.error")
            return task

        def set_memory(state_id: str, memory: object) -> tasks.CallAwsService:
            return tasks.CallAwsService(
                self,
                state_id,
                service="lambda",
                action="updateFunctionConfiguration",
                iam_action="lambda:UpdateFunctionConfiguration",
                iam_resources=[detector.function_arn],
                parameters={"FunctionName": detector.function_name, "MemorySize": memory},
                result_path=sfn.JsonPath.DISCARD,
            )

        trial_failed = sfn.Fail(self, "TrialFailed", error="PowerTuningTrialFailed")
        trial = (
            resilient(set_memory("SetTrialMemory", sfn.JsonPath.number_at("$.memorySize")), trial_failed)
            .next(sfn.Wait(self, "WaitForUpdate", time=sfn.WaitTime.duration(cdk.Duration.seconds(10))))
            .next(resilient(self._invoke(
                "Benchmark", latest,
                {"action": "tune", "memorySize.$": "$.memorySize", "iterations": 20},
            ), trial_failed))
        )
        trials = sfn.Map(
            self,
            "TestMemoryConfigurations",
            items_path="$.memorySizes",
            item_selector={"memorySize.$": "$$.Map.Item.Value"},
            max_concurrency=1,  # each trial reconfigures the same function
            result_path="$.results",
        )
        trials.item_processor(trial)
        trials.add_catch(failed, result_path="$.error")
        definition = (
            sfn.Pass(self, "MemoryConfigurations", result=sfn.Result.from_object(
                {"memorySizes": POWER_TUNING_MEMORY_SIZES}))
            .next(trials)
            .next(resilient(set_memory("RestoreMemory", DETECTOR_MEMORY_SIZE), failed))
            .next(resilient(self._invoke("Recommend", latest, {"action": "tune", "results.$": "$.results"}), failed))
        )
        return self._observed_state_machine(
            "PowerTuningWorkflow", "PowerTuningLogs", definition, sfn.StateMachineType.STANDARD, cdk.Duration.minutes(30)
        )

    def _observed_state_machine(
        self,
        construct_id: str,
        log_group_id: str,
        definition: sfn.IChainable,
        state_machine_type: sfn.StateMachineType,
        timeout: cdk.Duration,
    ) -> sfn.StateMachine:
        """A state machine named ``<construct_id>-<suffix>``, traced, logging every event with its data."""
        name = self.name(construct_id)
        return sfn.StateMachine(
            self,
            construct_id,
            state_machine_name=name,
            state_machine_type=state_machine_type,
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=timeout,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.log_group(log_group_id, f"/aws/vendedlogs/states/{name}"),
                level=sfn.LogLevel.ALL,
                include_execution_data=True,
            ),
        )

    # --- baseline ------------------------------------------------------------------------------

    def _build_baseline(self) -> None:
        """The analysis chain by a fixed function name: no retries, catches, logs or tracing."""
        detector = lambda_.Function.from_function_attributes(
            self,
            "PatternDetectorFn",
            function_arn=self.format_arn(
                service="lambda", resource="function", resource_name="PatternDetector",
                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
            ),
            same_environment=True,
        )
        self.analysis_workflow = sfn.StateMachine(
            self,
            "PatternAnalysisWorkflow",
            state_machine_name=self.name("PatternAnalysisWorkflow"),
            definition_body=sfn.DefinitionBody.from_chainable(self._analysis_chain(detector, None)),
        )
