"""local/ecs/secrets.py through `Agent.sync_once()`: a task whose secrets exist starts and its containers log their
names, never a value; one that names a missing or deleted secret, or a missing parameter, stops with ECS's
ResourceInitializationError (docs/compatibility.md#secrets)."""

from __future__ import annotations

import pytest

from tests.conftest import setup_client
from tests.workflows.test_ecs_simulation import (  # noqa: F401  (the fixtures)
    agent,
    clock,
    create_service,
    deploy,
    describe_task,
    environment,
    log_messages,
    remaining,
    run_task,
    service,
    sync,
)

VALUE = "do-not-print-me-42"
INIT_ERROR = (
    "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: "
)


def container(*secrets: dict) -> list[dict]:
    return [{"name": "app", "image": "alpine", "memory": 256, "command": ["sleep", "60"], "secrets": list(secrets)}]


def started(definition: str) -> tuple[dict, str]:
    (task,) = run_task(definition)["tasks"]
    return task, task["taskArn"].split("/")[-1]


def test_a_task_with_existing_secrets_starts_and_logs_their_names_only(agent):
    environment()
    sync(agent)
    arn = setup_client("secretsmanager").create_secret(Name="l0/test/db", SecretString=VALUE)["ARN"]
    setup_client("ssm").put_parameter(Name="/l0/test/url", Value=VALUE, Type="SecureString")
    parameter_arn = "arn:aws:ssm:us-west-2:123456789012:parameter/l0/test/url"
    references = [
        {"name": "DB_PASSWORD", "valueFrom": arn},
        {"name": "DB_USER", "valueFrom": f"{arn}:username::"},  # ECS's JSON-key form
        {"name": "URL", "valueFrom": parameter_arn},
    ]
    task, task_id = started(deploy(containers=container(*references)))
    sync(agent)

    assert describe_task(task["taskArn"])["lastStatus"] == "RUNNING"
    lines = log_messages(f"l0/app/{task_id}")
    assert lines[:2] == [
        f"Starting container app of task {task_id}",
        "Secrets: DB_PASSWORD, DB_USER, URL (values not shown)",
    ]
    assert not any(VALUE in line for line in lines)


def test_a_partial_arn_names_the_secret_by_its_name(agent):
    environment()
    sync(agent)
    setup_client("secretsmanager").create_secret(Name="l0/test/partial", SecretString=VALUE)
    partial = "arn:aws:secretsmanager:us-west-2:123456789012:secret:l0/test/partial"
    task, _ = started(deploy(containers=container({"name": "P", "valueFrom": partial})))
    sync(agent)
    assert describe_task(task["taskArn"])["lastStatus"] == "RUNNING"


@pytest.mark.parametrize("case", ["missing secret", "deleted secret", "missing parameter"])
def test_a_secret_that_cannot_be_read_stops_the_task_with_ecs_s_reason(agent, case):
    environment()
    sync(agent)
    secretsmanager = setup_client("secretsmanager")
    if case == "missing secret":
        value_from = "arn:aws:secretsmanager:us-west-2:123456789012:secret:l0/test/never-AbCdEf"
        expected = (
            f"{INIT_ERROR}unable to retrieve secret from asm: service call has been retried 1 time(s): failed to fetch "
            f"secret {value_from} from secrets manager: ResourceNotFoundException: Secrets Manager can't find the "
            "specified secret."
        )
    elif case == "deleted secret":
        value_from = secretsmanager.create_secret(Name="l0/test/gone", SecretString=VALUE)["ARN"]
        secretsmanager.delete_secret(SecretId="l0/test/gone", RecoveryWindowInDays=7)
        expected = (
            f"{INIT_ERROR}unable to retrieve secret from asm: service call has been retried 1 time(s): failed to fetch "
            f"secret {value_from} from secrets manager: InvalidRequestException: You can't perform this operation on "
            "the secret because it was marked for deletion."
        )
    else:
        value_from = "arn:aws:ssm:us-west-2:123456789012:parameter/l0/test/nothing"
        expected = (
            f"{INIT_ERROR}unable to retrieve secrets from ssm: service call has been retried 1 time(s): invalid "
            "parameters: /l0/test/nothing"
        )
    task, task_id = started(deploy(containers=container({"name": "X", "valueFrom": value_from})))
    sync(agent)

    stopped = describe_task(task["taskArn"])
    assert stopped["lastStatus"] == "STOPPED"
    assert stopped["stoppedReason"] == expected
    assert stopped["stopCode"] == "TaskFailedToStart"
    assert "startedAt" not in stopped
    assert remaining("MEMORY") == 4096  # its memory is the instance's again


def test_a_service_whose_secret_is_missing_trips_the_circuit_breaker(agent):
    # A rollout of a deploy naming a secret that does not exist fails, as one whose image cannot be pulled does.
    environment(instances=1)
    sync(agent)
    missing = "arn:aws:secretsmanager:us-west-2:123456789012:secret:l0/test/never-AbCdEf"
    create_service(deploy(containers=container({"name": "X", "valueFrom": missing})))

    sync(agent, 8)

    (deployment,) = service()["deployments"]
    assert (deployment["rolloutState"], deployment["failedTasks"]) == ("FAILED", 3)
    stopped = setup_client("ecs").list_tasks(cluster="l0-test-env1", desiredStatus="STOPPED")["taskArns"]
    assert len(stopped) == 3
    assert all(describe_task(arn)["stoppedReason"].startswith(INIT_ERROR) for arn in stopped)


def test_missing_private_registry_credentials_stop_the_task_too(agent):
    environment()
    sync(agent)
    missing = "arn:aws:secretsmanager:us-west-2:123456789012:secret:l0/test/registry-AbCdEf"
    [definition] = container()
    definition["repositoryCredentials"] = {"credentialsParameter": missing}
    task, _ = started(deploy(containers=[definition]))
    sync(agent)
    stopped = describe_task(task["taskArn"])
    assert (stopped["lastStatus"], stopped["stopCode"]) == ("STOPPED", "TaskFailedToStart")
    assert stopped["stoppedReason"].startswith(INIT_ERROR) and missing in stopped["stoppedReason"]
