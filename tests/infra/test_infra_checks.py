"""cdk-nag, cfn-lint, the Lambda asset, the token command, and the imported-VPC variant."""

from __future__ import annotations

import base64
import json
import shlex
import subprocess
import sys

from layer0 import contract
from infra.stack import TOKEN_COMMAND
from tests.infra.conftest import (
    IMPORTED_CONTEXT,
    IMPORTED_VPC_ID,
    PRIVATE_SUBNETS,
    PUBLIC_SUBNETS,
)
from tests.infra.helpers import function, methods, only
from tests.infra.test_infra_autoscaling import AUTOSCALING_ACKNOWLEDGEMENTS
from tests.infra.test_infra_deploys import DEPLOY_ACKNOWLEDGEMENTS
from tests.infra.test_infra_environments import ENVIRONMENT_ACKNOWLEDGEMENTS
from tests.infra.test_infra_load_balancers import LOAD_BALANCER_ACKNOWLEDGEMENTS
from tests.infra.test_infra_read_model import READ_MODEL_ACKNOWLEDGEMENTS
from tests.infra.test_infra_secrets import SECRET_ACKNOWLEDGEMENTS
from tests.infra.test_infra_services import SERVICE_ACKNOWLEDGEMENTS
from tests.infra.test_infra_tasks import TASK_ACKNOWLEDGEMENTS

# Every finding the stack acknowledges, and nothing else: a new acknowledgement must be added here on purpose.
EXPECTED_ACKNOWLEDGEMENTS = {
    "AwsSolutions-SMG4",
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role]",
    "AwsSolutions-IAM5[Resource::*]",  # X-Ray on each function role
    "AwsSolutions-APIG2",
    "AwsSolutions-APIG3",
    "AwsSolutions-APIG4",  # open routes and CORS preflights
    "AwsSolutions-APIG6",
    "AwsSolutions-COG4",
    *ENVIRONMENT_ACKNOWLEDGEMENTS,  # the environments policy, each wildcard with its reason
    *SERVICE_ACKNOWLEDGEMENTS,  # the services policy and the service job machines' executions
    *DEPLOY_ACKNOWLEDGEMENTS,  # the deploys policy (infra/deploys.py)
    *TASK_ACKNOWLEDGEMENTS,  # the tasks policies and the create-task machine's executions (infra/tasks.py)
    *LOAD_BALANCER_ACKNOWLEDGEMENTS,  # the load-balancer policies and the delete machine's executions
    *READ_MODEL_ACKNOWLEDGEMENTS,  # the events function's policy (infra/read_model.py)
    *AUTOSCALING_ACKNOWLEDGEMENTS,  # the autoscaling policies (infra/autoscaling.py)
    *SECRET_ACKNOWLEDGEMENTS,  # the task execution role and the secrets policy (infra/secrets.py)
    # The API may stop and read executions of the job machine; execution names are job ids (run time).
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
    "l0-l0-job-delete-environment:*]",
}


def _report_conclusions(synth):
    report = synth.validation_report
    return {p["pluginName"]: p for p in report["pluginReports"]}


# --- cdk-nag ------------------------------------------------------------------------------------------------------


def test_cdk_nag_has_no_unacknowledged_findings(synth):
    plugins = _report_conclusions(synth)
    assert "AwsSolutions" in plugins
    for name, plugin in plugins.items():
        assert plugin["conclusion"] == "success", name
        assert plugin["violations"] == [], json.dumps(plugin["violations"], indent=1)[:4000]


def test_cdk_nag_acknowledgements_are_the_expected_ones_with_reasons(synth):
    suppressed = _report_conclusions(synth)["AwsSolutions"]["suppressedViolations"]
    rules = {s["ruleName"] for s in suppressed}
    # The instance role's bootstrap/* read names the bucket's logical id, so match it by shape.
    bootstrap = {r for r in rules if r.startswith("AwsSolutions-IAM5[Resource::<") and r.endswith(".Arn>/bootstrap/*]")}
    assert len(bootstrap) == 1, rules
    assert rules - bootstrap == EXPECTED_ACKNOWLEDGEMENTS
    for s in suppressed:
        assert len(s["reason"]) >= 60, s
        for construct in s["violatingConstructs"]:
            # Acknowledged on the narrowest scope: never on the stack or the app.
            assert s["acknowledgedAt"].count("/") >= 1 and construct["constructPath"].startswith(s["acknowledgedAt"])
    open_paths = {r.path for r in contract.ROUTES if not r.auth}
    apig4 = {
        c["constructPath"]
        for s in suppressed
        if s["ruleName"] == "AwsSolutions-APIG4"
        for c in s["violatingConstructs"]
    }
    assert {p for p in apig4 if p.endswith("/GET/Resource")} == {
        f"l0-l0/Api/RestApi/Default{path}/GET/Resource" for path in open_paths
    }
    assert all(p.endswith(("/OPTIONS/Resource", "/GET/Resource")) for p in apig4)


# --- cfn-lint -----------------------------------------------------------------------------------------------------


def test_cfn_lint_finds_no_errors(synth, imported):
    command = [
        sys.executable, "-c", "import sys; from cfnlint.runner import main; sys.exit(main())",
        "--ignore-checks", "W3005", "--", str(synth.template_path), str(imported.template_path),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    # cfn-lint's exit code is a bit field: 2 = errors, 4 = warnings, 8 = informational.
    assert not result.returncode & 2, result.stdout + result.stderr
    assert result.returncode in (0, 4, 8, 12), result.stdout + result.stderr


# --- the Lambda asset ---------------------------------------------------------------------------------------------


def test_asset_holds_handlers_domain_and_dependencies_only(synth):
    asset = synth.asset_dir()
    for module in (contract.API_HANDLER, contract.AUTHORIZER_HANDLER):
        package = module.rsplit(".", 1)[0].replace(".", "/")
        assert (asset / package / "__init__.py").is_file() or (asset / f"{package}.py").is_file(), module
    assert (asset / "layer0" / "settings.py").is_file()
    assert (asset / "aws_lambda_powertools" / "__init__.py").is_file()
    assert (asset / "pydantic" / "__init__.py").is_file()
    # Wheels for the Lambda runtime's Python and architecture, not this machine's.
    cores = [p.name for p in (asset / "pydantic_core").glob("_pydantic_core.*.so")]
    runtime = synth.stack.functions.api.runtime.name  # "python3.14"
    assert cores == [f"_pydantic_core.cpython-{runtime.removeprefix('python').replace('.', '')}-aarch64-linux-gnu.so"]
    [core] = (asset / "pydantic_core").glob("_pydantic_core.*.so")
    assert core.read_bytes()[18:20] == b"\xb7\x00"  # ELF e_machine EM_AARCH64 (183): the functions are arm64
    for unwanted in ("tests", ".venv", "bin", "requirements.txt"):
        assert not (asset / unwanted).exists(), unwanted
    assert not list(asset.rglob("__pycache__")) and not list(asset.rglob("*.pyc"))


def test_every_function_shares_the_one_asset(synth):
    keys = {json.dumps(r["Properties"]["Code"], sort_keys=True) for r in synth.layer0_functions().values()}
    assert len(keys) == 1


# --- the token command of the Export output ----------------------------------------------------------------------


def test_token_command_prints_base64_of_username_colon_password():
    script = TOKEN_COMMAND.split("| ", 1)[1]
    argv = shlex.split(script)
    assert argv[:2] == ["python3", "-c"]
    secret = json.dumps({"username": contract.SECRET_USERNAME, "password": "s3cretPassw0rd"})
    result = subprocess.run([sys.executable, "-c", argv[2]], input=secret, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == base64.b64encode(b"layer0:s3cretPassw0rd").decode()


# --- `-c vpc_id=...` ----------------------------------------------------------------------------------------------


def test_imported_vpc_variant_creates_no_network_and_passes_the_lookup_result(imported):
    assert imported.stack.stack_name == "l0-team2"
    for created in ("AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::NatGateway", "AWS::EC2::FlowLog"):
        assert not imported.resources(created), created
    assert not imported.manifest.get("missing"), "the lookup context was not used"
    _, props = function(imported.template_json, contract.API_HANDLER)
    variables = props["Environment"]["Variables"]
    assert variables["LAYER0_AWS_VPC_ID"] == IMPORTED_VPC_ID
    assert variables["LAYER0_AWS_PUBLIC_SUBNETS"] == ",".join(PUBLIC_SUBNETS)
    assert variables["LAYER0_AWS_PRIVATE_SUBNETS"] == ",".join(PRIVATE_SUBNETS)


def test_imported_variant_applies_every_context_value(imported):
    _, props = function(imported.template_json, contract.API_HANDLER)
    variables = props["Environment"]["Variables"]
    assert variables["LAYER0_PREFIX"] == "team2"
    assert variables["LAYER0_API_VERSION"] == IMPORTED_CONTEXT["api_version"]
    assert props["FunctionName"] == "l0-team2-api"
    assert props["ReservedConcurrentExecutions"] == 4
    assert variables["LAYER0_AWS_RATE"] == "2.5"
    assert variables["LAYER0_AWS_BURST"] == "7"
    # -c container_policy=strict reaches every function (the API function is the one that reads it).
    functions = imported.layer0_functions().values()
    assert {f["Properties"]["Environment"]["Variables"]["LAYER0_CONTAINER_POLICY"] for f in functions} == {"strict"}
    names = {t["Properties"]["TableName"] for t in imported.resources("AWS::DynamoDB::Table").values()}
    assert names == {f"l0-team2-{t.name_suffix}" for t in contract.TABLES}
    log_groups = {g["Properties"].get("LogGroupName") for g in imported.resources("AWS::Logs::LogGroup").values()}
    assert "l0-team2" in log_groups
    _, secret = only(imported.resources("AWS::SecretsManager::Secret"), "secret")
    assert secret["Properties"]["Name"] == "l0-team2-auth"
    responses = imported.resources("AWS::ApiGateway::GatewayResponse").values()
    assert {r["Properties"]["ResponseParameters"]["gatewayresponse.header.Version"] for r in responses} == {
        "'v9.9.9-test'"
    }
    stage = only(imported.resources("AWS::ApiGateway::Stage"), "stage")[1]["Properties"]
    assert stage["MethodSettings"][0]["ThrottlingRateLimit"] == imported.stack.config.throughput.api_throttle_rate == 20
    routes = {(r.method, r.path) for r in contract.ROUTES}
    assert {k for k in methods(imported.template_json) if k[0] != "OPTIONS"} == routes


def test_imported_variant_is_cdk_nag_clean(imported):
    for plugin in imported.validation_report["pluginReports"]:
        assert plugin["conclusion"] == "success" and plugin["violations"] == [], plugin["pluginName"]
