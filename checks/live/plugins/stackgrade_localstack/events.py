"""EventBridge rules that start a Step Functions state machine with an InputPath or an InputTransformer.

LocalStack 4.14's Step Functions target (``localstack.services.events.target.StatesTargetSender.send_event``)
names the execution after ``event["id"]`` of the event as already transformed for the target: once an
InputPath such as ``$.detail`` (or an InputTransformer) has removed the envelope there is no ``id``, and
delivery fails with "Failed to deliver to target ...: 'id'" so no execution starts. A start-up hook
replaces it: the event's id names the execution when the target receives the whole event, as before;
otherwise a generated unique name does.
"""

from __future__ import annotations

import uuid

from localstack.runtime import hooks

# Keys of an EventBridge event envelope: when all are present the target receives the whole event.
ENVELOPE = frozenset({"id", "source", "detail-type"})


def execution_name(event) -> str:
    """The event's id for a whole event; a new unique name for a part of one or a transformed text."""
    if isinstance(event, dict) and ENVELOPE <= event.keys() and isinstance(event["id"], str):
        return event["id"]
    return str(uuid.uuid4())


def start_execution(send_event, self, event, trace_header) -> None:
    """LocalStack's delivery (the input serialized as its other targets do) under ``execution_name``."""
    from localstack.services.events.utils import to_json_str

    self.service = "stepfunctions"
    self.client.start_execution(stateMachineArn=self.target["Arn"], name=execution_name(event),
                                input=to_json_str(event))


@hooks.on_infra_start()
def name_state_machine_executions() -> None:
    """Replace the Step Functions target's ``send_event`` before any rule delivers."""
    from localstack.services.events.target import StatesTargetSender
    from localstack.utils.patch import Patch

    Patch.function(StatesTargetSender.send_event, start_execution).apply()
