"""The commands for the newest routes (secrets, service autoscaling, Fargate, Graviton and managed-scaling
environments), end to end against local mode. Their unit tests are in test_cli_unit.py; these need the API to have
the routes and fields."""

from __future__ import annotations

import pytest

from tests.cli.e2e import CLI, FIXTURES

SERVICE = str(FIXTURES / "Service.Dockerrun.aws.json")


@pytest.fixture(scope="module")
def cli(local_mode, tmp_path_factory) -> CLI:
    return CLI(local_mode, tmp_path_factory.mktemp("home"))


def test_secret_set_list_delete(cli: CLI):
    created = cli.json("secret", "set", "db-password", input="s3cr3t value\n")
    assert created[0]["secret_name"] == "db-password" and "/db-password" in created[0]["secret_arn"]
    listed = cli("secret", "list").stdout
    assert "db-password" in listed and "s3cr3t" not in listed
    cli("secret", "set", "db-password", input="another\n")  # an update
    assert cli("secret", "delete", "db-password").exit_code == 0
    assert "db-password" not in cli("secret", "list").stdout
    refused = cli.run("secret", "set", "bad/name", input="x\n")
    assert refused.exit_code == 1 and "ServerError (code=1)" in refused.stderr


def test_service_autoscaling_set_and_clear(cli: CLI):
    cli("environment", "create", "--min-count", "1", "scaled")  # an instance at once: no scaler run to wait for
    cli("deploy", "create", SERVICE, "web")
    cli("service", "create", "--wait", "scaled", "web", "web:latest")
    shown = cli("service", "autoscaling", "set", "--min", "1", "--max", "4", "--cpu", "60", "web").stdout
    assert shown.splitlines()[0].endswith("AUTOSCALING") and shown.splitlines()[1].endswith("1-4")
    [service] = cli.json("service", "get", "web")
    assert service["autoscaling"]["max_count"] == 4 and service["autoscaling"]["cpu_target"] == 60
    outside = cli.run("service", "scale", "web", "9")
    assert outside.exit_code == 1 and "ServerError (code=1)" in outside.stderr
    cli("service", "autoscaling", "clear", "web")
    assert cli.json("service", "get", "web")[0]["autoscaling"] is None
    needs_alb = cli.run("service", "autoscaling", "set", "--min", "1", "--max", "2", "--requests", "100", "web")
    assert needs_alb.exit_code == 1 and "ServerError (code=1)" in needs_alb.stderr
    cli("environment", "delete", "--wait", "scaled")


def test_fargate_environment_with_spot(cli: CLI):
    [environment] = cli.json("environment", "create", "--type", "fargate", "--spot", "serverless")
    assert environment["environment_type"] == "fargate"
    shown = cli("environment", "get", "serverless").stdout
    assert "TYPE" in shown.splitlines()[0] and "fargate" in shown.splitlines()[1]
    refused = cli.run("environment", "create", "--type", "fargate", "--size", "m5.large", "refused")
    assert refused.exit_code == 1 and "ServerError (code=1)" in refused.stderr
    cli("environment", "delete", "--wait", "serverless")


def test_graviton_environment_with_layer0_scaling(cli: CLI):
    [environment] = cli.json("environment", "create", "--size", "t4g.small", "--scaling", "layer0", "graviton")
    assert (environment["architecture"], environment["scaling"]) == ("arm64", "layer0")
    [managed] = cli.json("environment", "create", "managed")
    assert (managed["architecture"], managed["scaling"], managed["environment_type"]) == ("x86_64", "managed", "ec2")
    cli("environment", "delete", "--wait", "graviton")
    cli("environment", "delete", "--wait", "managed")
