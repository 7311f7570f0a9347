"""Job type 3, delete load balancer (docs/compatibility.md#load-balancers).

DeleteRouting (classic: the IAM role's policies and the role; application: the listeners and the target groups)
-> DeleteLoadBalancer -> DeleteSecurityGroup (retried while the public group's network interfaces detach) ->
DeleteTags. The steps are the load balancers' own delete operations, registered here by reference: a failed
create rolls back with them too, and the delete-environment job runs them all at once (`delete_now`).
"""

from __future__ import annotations

from layer0 import load_balancers
from layer0.contract import JobType
from layer0.workflows import asl
from layer0.workflows.frame import JobMachine

WORKFLOW = asl.Workflow("load_balancer")
for _operation in (
    load_balancers.delete_routing,
    load_balancers.delete_load_balancer,
    load_balancers.delete_security_group,
    load_balancers.delete_tags,
):
    WORKFLOW.step(_operation)

# The load balancer id is the job's request.
_LOAD_BALANCER = {"load_balancer_id.$": "$.request"}


def _body() -> dict:
    task = WORKFLOW.task
    states = {
        "DeleteRouting": task(load_balancers.delete_routing, args=_LOAD_BALANCER, next_state="DeleteLoadBalancer"),
        "DeleteLoadBalancer": task(
            load_balancers.delete_load_balancer, args=_LOAD_BALANCER, next_state="DeleteSecurityGroup"
        ),
        "DeleteSecurityGroup": task(
            load_balancers.delete_security_group,
            args=_LOAD_BALANCER,
            retryable=asl.SECURITY_GROUP_RETRY,
            next_state="DeleteTags",
        ),
        "DeleteTags": task(load_balancers.delete_tags, args=_LOAD_BALANCER),
    }
    return {"StartAt": "DeleteRouting", "States": states}


MACHINE = JobMachine(
    job_type=JobType.DeleteLoadBalancer,
    body=_body(),
    timeout_seconds=3600,
    description=(
        "Layer0 job type 3: delete a load balancer, its role or listeners and target groups, its security group"
    ),
)
