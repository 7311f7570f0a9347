"""Every job state machine and every workflow step: what the step handler runs, and what CDK and local mode create.

Each workflow module is imported here by name, so the step handler loads exactly these and no step is found by
a string lookup into modules.
"""

from __future__ import annotations

from typing import Any

from layer0.contract import JobType
from layer0.workflows import asl, create_task, delete_environment, delete_load_balancer, delete_service, frame, rollout

# Job type -> its machine. Type 4 (delete task) has none: the API never creates it; creating such a job
# fails cleanly (StartExecution: StateMachineDoesNotExist) and leaves nothing behind.
MACHINES: dict[JobType, frame.JobMachine] = {
    machine.job_type: machine
    for machine in (
        delete_environment.MACHINE,
        delete_service.MACHINE,
        delete_load_balancer.MACHINE,
        create_task.MACHINE,
        rollout.MACHINE,
    )
}

WORKFLOWS: tuple[asl.Workflow, ...] = (
    frame.WORKFLOW,
    delete_environment.WORKFLOW,
    delete_service.WORKFLOW,
    delete_load_balancer.WORKFLOW,
    create_task.WORKFLOW,
    rollout.WORKFLOW,
)


def _steps() -> dict[str, asl.StepFunction]:
    steps: dict[str, asl.StepFunction] = {}
    for workflow in WORKFLOWS:
        for name, function in workflow.steps.items():
            if steps.setdefault(name, function) is not function:
                raise ValueError(f"Two workflows register a step named {name}")
    return steps


STEPS = _steps()


class UnknownStep(Exception):
    """A state machine named a step that is not registered: a deployment mismatch, never retried."""


def run(name: str, args: dict) -> Any:
    """Run the step `name` with the Task state's `args` as its keyword arguments."""
    step = STEPS.get(name)
    if step is None:
        raise UnknownStep(f"No workflow step named {name!r}")
    return step(**args)
