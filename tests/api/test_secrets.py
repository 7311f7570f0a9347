"""`/secret` over HTTP (docs/compatibility.md#secrets), checked against what lands in moto's Secrets Manager, and a
Dockerrun's `secrets` through `/deploy`."""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from layer0 import contract, settings
from tests.conftest import setup_client

VALUE = "s3cr3t-Value-7f1e"  # must show up nowhere but in Secrets Manager
ACCOUNT = "123456789012"  # moto's
REGION = "us-west-2"
SECRETS_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:"
PARAMETERS_ARN = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter"


def error(response) -> tuple[int, int]:
    return response.status_code, response.json()["error_code"]


def put(api, name: str, value: str = VALUE, **kwargs):
    return api.post("/secret", json={"secret_name": name, "value": value}, **kwargs)


def stored(name: str) -> str:
    return setup_client("secretsmanager").get_secret_value(SecretId=f"l0/l0/{name}")["SecretString"]


def all_secret_names() -> list[str]:
    return sorted(
        s["Name"] for s in setup_client("secretsmanager").list_secrets(IncludePlannedDeletion=True)["SecretList"]
    )


# --- POST, GET, DELETE ---------------------------------------------------------------------------------------------


def test_post_creates_the_secret_under_the_instance_prefix_with_the_stack_key(api):
    response = put(api, "db-password")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"secret_name", "secret_arn", "last_changed"}
    assert body["secret_name"] == "db-password"
    assert body["secret_arn"].startswith(f"{SECRETS_ARN}l0/l0/db-password-")
    assert body["last_changed"].endswith("Z")
    assert VALUE not in response.text
    described = setup_client("secretsmanager").describe_secret(SecretId="l0/l0/db-password")
    assert described["ARN"] == body["secret_arn"]
    assert described["KmsKeyId"] == contract.secrets_key_alias("l0")
    assert stored("db-password") == VALUE


def test_post_of_an_existing_name_puts_a_new_value(api):
    first = put(api, "token").json()
    second = put(api, "token", "another value")
    assert second.status_code == 200
    assert second.json()["secret_arn"] == first["secret_arn"]
    assert stored("token") == "another value"


def test_concurrent_posts_of_one_name_all_succeed_and_make_one_secret(api):
    answers: list[int] = []

    def post(i: int) -> None:
        answers.append(put(api, "shared", f"value {i}").status_code)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200] * 6
    assert all_secret_names() == ["l0-l0-auth", "l0/l0/shared"]
    assert stored("shared") in {f"value {i}" for i in range(6)}


def test_get_lists_names_and_arns_never_values(api):
    put(api, "b-secret")
    put(api, "a.secret")
    # Another instance's secret, and one outside any instance: not listed.
    setup_client("secretsmanager").create_secret(Name="l0/other/x", SecretString=VALUE)
    setup_client("secretsmanager").create_secret(Name="l0/l0x/y", SecretString=VALUE)
    response = api.get("/secret")
    assert response.status_code == 200
    assert [s["secret_name"] for s in response.json()] == ["a.secret", "b-secret"]
    assert all(s["secret_arn"].startswith(f"{SECRETS_ARN}l0/l0/") for s in response.json())
    assert VALUE not in response.text


def test_delete_schedules_the_deletion_with_a_seven_day_window(api):
    put(api, "old")
    response = api.delete("/secret/old")
    assert (response.status_code, response.text) == (204, "")
    described = setup_client("secretsmanager").describe_secret(SecretId="l0/l0/old")
    assert "DeletedDate" in described
    assert api.get("/secret").json() == []
    # Gone for the API: a second delete is 404 code 32.
    assert error(api.delete("/secret/old")) == (404, 32)


def test_delete_of_an_unknown_secret_is_404_code_32(api):
    response = api.delete("/secret/nothing-here")
    assert error(response) == (404, 32)
    assert response.json()["message"] == "Secret 'nothing-here' does not exist"


def test_post_within_the_recovery_window_restores_the_secret_with_the_new_value(api):
    arn = put(api, "phoenix").json()["secret_arn"]
    api.delete("/secret/phoenix")
    response = put(api, "phoenix", "reborn")
    assert response.status_code == 200, response.text
    assert response.json()["secret_arn"] == arn
    assert "DeletedDate" not in setup_client("secretsmanager").describe_secret(SecretId="l0/l0/phoenix")
    assert stored("phoenix") == "reborn"
    assert [s["secret_name"] for s in api.get("/secret").json()] == ["phoenix"]


# --- the rules, before AWS is called -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["", "has space", "slash/inside", "colon:x", "x" * 129, "ünïcode", "star*"],
    ids=["empty", "space", "slash", "colon", "129 chars", "non-ascii", "star"],
)
def test_names_outside_the_rule_are_400_code_1_and_create_nothing(api, name):
    assert error(put(api, name)) == (400, 1)
    assert all_secret_names() == ["l0-l0-auth"]


def test_a_name_of_128_characters_is_fine(api):
    assert put(api, "a" * 128).status_code == 200


@pytest.mark.parametrize(
    "value",
    ["", "x" * 65537, "é" * 32769, None, 42, ["a"], {"a": 1}, "\ud800"],
    ids=["empty", "64 KiB + 1", "64 KiB + 2 in UTF-8", "null", "number", "array", "object", "lone surrogate"],
)
def test_values_outside_the_rule_are_400_code_1_never_quoted_and_create_nothing(api, value):
    response = api.post("/secret", data=json.dumps({"secret_name": "x", "value": value}),
                        headers={"Content-Type": "application/json"})  # fmt: skip
    assert error(response) == (400, 1), response.text
    if isinstance(value, str) and value:
        assert value[:20] not in response.json()["message"]
    assert all_secret_names() == ["l0-l0-auth"]


def test_values_of_exactly_64_kib_are_fine(api):
    assert put(api, "big", "x" * 65536).status_code == 200
    assert put(api, "wide", "é" * 32768).status_code == 200


def test_a_validation_error_never_echoes_the_value(api):
    # A number where the name should be: the framework's validation error, which must not quote the body.
    response = api.post("/secret", json={"secret_name": 12, "value": VALUE})
    assert error(response) == (400, 1)
    assert VALUE not in response.text
    # Broken JSON around the value: the decoder's message names a position, not the text.
    broken = api.post(
        "/secret", data=f'{{"secret_name": "x", "value": "{VALUE}" oops}}', headers={"Content-Type": "application/json"}
    )
    assert error(broken) == (400, 1)
    assert VALUE not in broken.text


def test_delete_with_an_invalid_name_is_400_code_1(api):
    assert error(api.delete("/secret/bad*name")) == (400, 1)


def test_an_idempotency_key_on_post_secret_stores_nothing(api):
    # POST /secret is not an idempotent route (it creates or updates): no record, no hash of the value.
    assert put(api, "keyed", headers={"Idempotency-Key": "k1"}).status_code == 200
    assert setup_client("dynamodb").scan(TableName=settings.get().idempotency_table)["Items"] == []


@pytest.fixture
def function_logs():
    """What the API function's Powertools loggers write (to the process's stdout, which capsys does not see: their
    handlers hold the stream they were made with), at DEBUG."""
    from handlers import api as api_function  # noqa: F401  (makes the loggers and their handlers)

    buffer = io.StringIO()
    loggers = [logging.getLogger(name) for name in ("layer0-api", "layer0")]
    levels = [(logger, logger.level) for logger in loggers]
    # The domain's logger writes through the API logger's handler during its invocations
    # (handlers.observability.domain_logs_through): once each.
    handlers = {id(h): h for logger in loggers for h in logger.handlers if isinstance(h, logging.StreamHandler)}
    streams = [(handler, handler.setStream(buffer)) for handler in handlers.values()]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    yield buffer
    for logger, level in levels:
        logger.setLevel(level)
    for handler, stream in streams:
        if stream is not None:
            handler.setStream(stream)


def test_nothing_logs_the_value(api, caplog, capsys, function_logs):
    caplog.set_level(logging.DEBUG)
    put(api, "logged")
    put(api, "logged", VALUE + "2")
    api.get("/secret")
    api.post("/secret", json={"secret_name": "bad name", "value": VALUE})
    api.post("/secret", json={"secret_name": "x", "value": [VALUE]})
    api.delete("/secret/logged")
    captured = capsys.readouterr()
    written = function_logs.getvalue()
    for text in (caplog.text, captured.out, captured.err, written):
        assert VALUE not in text
    assert "Secret logged set" in written and "Secret logged deleted" in written  # the function's logs were seen


# Run in a process of its own: Powertools reads both switches when the API module is imported.
_WITH_SWITCHES_ON = """
import json, sys
from moto import mock_aws
from local import moto_patches
from local.resources import create_stack_resources
from tests.conftest import MOTO_CONFIG, setup_client

moto_patches.apply()
with mock_aws(config=MOTO_CONFIG):
    environment, _ = create_stack_resources(setup_client)
    os.environ.update(environment)
    from handlers import api
    from local.gateway import LambdaContext, proxy_event

    body = json.dumps({"secret_name": "envtest", "value": sys.argv[1]}).encode()
    event = proxy_event("POST", "/secret", headers={"Content-Type": "application/json"}, body=body)
    print("status", api.handler(event, LambdaContext())["statusCode"], flush=True)
"""


def test_powertools_switches_cannot_make_the_api_log_request_bodies():
    # Debug mode prints every event and log_event logs it: both are off in code, whatever the environment says.
    root = Path(__file__).resolve().parents[2]
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAYER0_"))},
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION, "POWERTOOLS_TRACE_DISABLED": "true", "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
        "POWERTOOLS_LOGGER_LOG_EVENT": "true", "POWERTOOLS_DEV": "true",
        "PYTHONPATH": os.pathsep.join([str(root / "functions"), str(root)]),
    }  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", "import os\n" + _WITH_SWITCHES_ON, VALUE],
        cwd=root, env=environment, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert "status 200" in result.stdout, result.stdout + result.stderr
    assert "Secret envtest set" in result.stdout  # the function's log is in this output
    assert VALUE not in result.stdout + result.stderr


# --- a Dockerrun's `secrets` ---------------------------------------------------------------------------------------


def dockerrun(*references: dict, **container) -> str:
    document = {
        "containerDefinitions": [
            {"name": "app", "image": "alpine", "memory": 64, "secrets": list(references), **container}
        ]
    }
    return base64.b64encode(json.dumps(document).encode()).decode()


def deploy(api, *references: dict, **container):
    return api.post("/deploy", json={"deploy_name": "app", "dockerrun": dockerrun(*references, **container)})


def registered(deploy_id: str) -> dict:
    name, revision = deploy_id.split(".")
    return setup_client("ecs").describe_task_definition(taskDefinition=f"l0-l0-{name}:{revision}")["taskDefinition"]


def task_definitions() -> list[str]:
    return setup_client("ecs").list_task_definitions()["taskDefinitionArns"]


def test_a_secret_name_resolves_to_its_arn_and_the_deploy_gets_the_execution_role(api):
    arn = put(api, "db-password").json()["secret_arn"]
    response = deploy(api, {"name": "DB_PASSWORD", "valueFrom": "db-password"})
    assert response.status_code == 200, response.text
    definition = registered(response.json()["deploy_id"])
    assert definition["containerDefinitions"][0]["secrets"] == [{"name": "DB_PASSWORD", "valueFrom": arn}]
    assert definition["executionRoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/l0-l0-task-execution"
    # GET /deploy/{id} shows the reference with its ARN, never the value.
    got = api.get(f"/deploy/{response.json()['deploy_id']}")
    container = json.loads(base64.b64decode(got.json()["dockerrun"]))["containerDefinitions"][0]
    assert container["Secrets"] == [{"Name": "DB_PASSWORD", "ValueFrom": arn}]
    assert VALUE not in got.text and VALUE not in base64.b64decode(got.json()["dockerrun"]).decode()


def test_arns_and_parameters_under_the_instance_prefix_register_as_arns(api):
    references = [
        {"name": "A", "valueFrom": f"{SECRETS_ARN}l0/l0/not-made-yet-AbCdEf"},  # may not exist: ECS says so at start
        {"name": "B", "valueFrom": f"{SECRETS_ARN}l0/l0/db:password::"},  # ECS's JSON-key form
        {"name": "C", "valueFrom": f"{PARAMETERS_ARN}/l0/l0/app/url"},
        {"name": "D", "valueFrom": "/l0/l0/app/token"},  # a parameter name becomes its ARN
    ]
    response = deploy(api, *references)
    assert response.status_code == 200, response.text
    definition = registered(response.json()["deploy_id"])
    assert [s["valueFrom"] for s in definition["containerDefinitions"][0]["secrets"]] == [
        f"{SECRETS_ARN}l0/l0/not-made-yet-AbCdEf",
        f"{SECRETS_ARN}l0/l0/db:password::",
        f"{PARAMETERS_ARN}/l0/l0/app/url",
        f"{PARAMETERS_ARN}/l0/l0/app/token",
    ]
    assert definition["executionRoleArn"].endswith(":role/l0-l0-task-execution")


def test_log_configuration_secret_options_follow_the_same_rules(api):
    put(api, "splunk-token")
    options = {
        "logDriver": "splunk",
        "options": {},
        "secretOptions": [{"name": "splunk-token", "valueFrom": "splunk-token"}],
    }
    response = deploy(api, logConfiguration=options)
    assert response.status_code == 200, response.text
    definition = registered(response.json()["deploy_id"])
    [option] = definition["containerDefinitions"][0]["logConfiguration"]["secretOptions"]
    assert option["valueFrom"].startswith(f"{SECRETS_ARN}l0/l0/splunk-token-")
    assert definition["executionRoleArn"].endswith(":role/l0-l0-task-execution")
    outside = {**options, "secretOptions": [{"name": "t", "valueFrom": f"{SECRETS_ARN}prod/splunk"}]}
    assert error(deploy(api, logConfiguration=outside)) == (400, 1)


def test_private_registry_credentials_follow_the_rules_secrets_manager_only(api):
    arn = put(api, "dockerhub").json()["secret_arn"]
    response = deploy(api, repositoryCredentials={"credentialsParameter": "dockerhub"})
    assert response.status_code == 200, response.text
    definition = registered(response.json()["deploy_id"])
    assert definition["containerDefinitions"][0]["repositoryCredentials"] == {"credentialsParameter": arn}
    assert definition["executionRoleArn"].endswith(":role/l0-l0-task-execution")
    for outside in (f"{SECRETS_ARN}prod/dockerhub", "/l0/l0/dockerhub", f"{PARAMETERS_ARN}/l0/l0/dockerhub"):
        refused = deploy(api, repositoryCredentials={"credentialsParameter": outside})
        assert error(refused) == (400, 1), outside
        assert "repositoryCredentials.credentialsParameter" in refused.json()["message"]


@pytest.mark.parametrize(
    "value_from",
    [
        f"{SECRETS_ARN}prod/db",  # another secret of the account
        f"{SECRETS_ARN}l0/other/db",  # another instance's
        f"{SECRETS_ARN}l0/l0x/db",  # a prefix that only starts like this one
        f"{SECRETS_ARN}l0/l0/",  # no name
        f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:l0/l0/db",  # another region
        f"arn:aws:secretsmanager:{REGION}:210987654321:secret:l0/l0/db",  # another account
        f"{PARAMETERS_ARN}/prod/db",
        "/prod/db",
        "/l0/other/db",
        "l0/l0/db",  # a Secrets Manager name: give the Layer0 name, or the ARN
        "arn:aws:s3:::bucket/l0/l0/db",
        "",
    ],
)
def test_references_outside_the_instance_are_400_code_1_and_register_nothing(api, value_from):
    response = deploy(api, {"name": "X", "valueFrom": value_from})
    assert error(response) == (400, 1), response.text
    assert task_definitions() == []


def test_a_secret_name_that_does_not_exist_is_400_code_1(api):
    response = deploy(api, {"name": "X", "valueFrom": "never-made"})
    assert error(response) == (400, 1)
    assert "secret 'never-made' does not exist" in response.json()["message"]
    assert task_definitions() == []


def test_a_deleted_secret_name_is_400_code_1(api):
    put(api, "gone")
    api.delete("/secret/gone")
    assert error(deploy(api, {"name": "X", "valueFrom": "gone"})) == (400, 1)


def test_a_deploy_without_secrets_gets_no_execution_role_and_users_cannot_set_one(api):
    document = {
        "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/l0-l0-task-execution",
        "containerDefinitions": [{"name": "app", "image": "alpine", "memory": 64}],
    }
    response = api.post(
        "/deploy", json={"deploy_name": "plain", "dockerrun": base64.b64encode(json.dumps(document).encode()).decode()}
    )
    assert response.status_code == 200, response.text
    assert "executionRoleArn" not in registered(response.json()["deploy_id"])


@pytest.mark.parametrize("role", [f"arn:aws:iam::{ACCOUNT}:role/l0-l0-task-execution", "l0-l0-task-execution"])
def test_the_execution_role_is_no_task_role(api, role):
    document = {"taskRoleArn": role, "containerDefinitions": [{"name": "app", "image": "alpine", "memory": 64}]}
    response = api.post(
        "/deploy", json={"deploy_name": "asrole", "dockerrun": base64.b64encode(json.dumps(document).encode()).decode()}
    )
    assert error(response) == (400, 1)
    assert "task execution role" in response.json()["message"]
    assert task_definitions() == []


# --- the OpenAPI document ------------------------------------------------------------------------------------------


def test_the_openapi_document_describes_the_routes_and_hides_the_value(api):
    document = api.get("/openapi.json").json()
    paths = document["paths"]
    assert set(paths["/secret"]) == {"get", "post"} and set(paths["/secret/{name}"]) == {"delete"}
    assert {"204", "400", "404"} <= set(paths["/secret/{name}"]["delete"]["responses"])
    assert "Idempotency-Key" not in json.dumps(paths["/secret"]["post"])  # not an idempotent route
    schemas = document["components"]["schemas"]
    value = schemas["PutSecretRequest"]["properties"]["value"]
    assert (value["format"], value["writeOnly"], value["maxLength"]) == ("password", True, 65536)
    assert schemas["PutSecretRequest"]["properties"]["secret_name"]["pattern"] == "^[A-Za-z0-9_.-]{1,128}$"
    assert set(schemas["Secret"]["properties"]) == {"secret_name", "secret_arn", "last_changed"}
    assert "secret" in [tag["name"] for tag in document["tags"]]
