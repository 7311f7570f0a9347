"""The default stack's template: what the contract and docs/architecture.md#shape-on-aws ask for, resource by
resource."""

from __future__ import annotations

import json
import re
from pathlib import Path

from aws_cdk.assertions import Match

from layer0 import contract
from infra.config import DEFAULT_API_VERSION, Config
from tests.infra.helpers import as_list, function, methods, only, references, snapstart_alias, statements
from tests.infra.test_infra_autoscaling import AUTOSCALING_ACTIONS, READ as AUTOSCALING_STAR_ACTIONS
from tests.infra.test_infra_deploys import DEPLOY_ACTIONS, DEPLOY_STAR_ACTIONS
from tests.infra.test_infra_environments import ENVIRONMENT_ACTIONS, ENVIRONMENT_STAR_ACTIONS, SCALER_TRIGGER_ACTIONS
from tests.infra.test_infra_load_balancers import LOAD_BALANCER_ACTIONS, LOAD_BALANCER_STAR_ACTIONS
from tests.infra.test_infra_secrets import SECRET_API_ACTIONS, SECRET_STAR_ACTIONS
from tests.infra.test_infra_services import SERVICE_ACTIONS

DEFAULT = Config()
SETTINGS_SOURCE = (Path(__file__).resolve().parents[2] / "functions" / "layer0" / "settings.py").read_text()


# --- stack --------------------------------------------------------------------------------------------------------


def test_stack_is_named_after_the_prefix(synth):
    assert synth.stack.stack_name == "l0-l0"
    assert synth.template_path.is_file()


# --- DynamoDB -----------------------------------------------------------------------------------------------------


def test_one_table_per_contract_table_with_its_keys_ttl_and_pitr(synth):
    tables = synth.resources("AWS::DynamoDB::Table")
    assert len(tables) == len(contract.TABLES)
    by_name = {t["Properties"]["TableName"]: t for t in tables.values()}
    for spec in contract.TABLES:
        table = by_name[f"l0-l0-{spec.name_suffix}"]
        props = table["Properties"]
        keys = [{"AttributeName": spec.partition_key[0], "KeyType": "HASH"}]
        attributes = [{"AttributeName": spec.partition_key[0], "AttributeType": spec.partition_key[1]}]
        if spec.sort_key:
            keys.append({"AttributeName": spec.sort_key[0], "KeyType": "RANGE"})
            attributes.append({"AttributeName": spec.sort_key[0], "AttributeType": spec.sort_key[1]})
        assert props["KeySchema"] == keys
        assert sorted(props["AttributeDefinitions"], key=str) == sorted(attributes, key=str)
        assert "GlobalSecondaryIndexes" not in props and "LocalSecondaryIndexes" not in props
        assert props["TimeToLiveSpecification"] == {"AttributeName": spec.ttl_attribute, "Enabled": True}
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert props["BillingMode"] == "PAY_PER_REQUEST"


def test_tag_and_job_tables_survive_the_stack(synth):
    by_name = {t["Properties"]["TableName"]: t for t in synth.resources("AWS::DynamoDB::Table").values()}
    for name in ("l0-l0-tags", "l0-l0-jobs"):
        assert by_name[name]["DeletionPolicy"] == "Retain"
        assert by_name[name]["UpdateReplacePolicy"] == "Retain"
        assert by_name[name]["Properties"]["DeletionProtectionEnabled"] is True
    assert by_name["l0-l0-idempotency"]["DeletionPolicy"] == "Delete"


# --- secret -------------------------------------------------------------------------------------------------------


def test_auth_secret_is_generated_and_never_in_the_template(synth):
    _, secret = only(synth.resources("AWS::SecretsManager::Secret"), "secret")
    props = secret["Properties"]
    assert props["Name"] == "l0-l0-auth"
    assert "SecretString" not in props
    generator = props["GenerateSecretString"]
    assert json.loads(generator["SecretStringTemplate"]) == {"username": contract.SECRET_USERNAME}
    assert generator["GenerateStringKey"] == "password"
    assert generator["ExcludePunctuation"] is True
    assert generator["PasswordLength"] == 32
    assert '"SecretString":' not in json.dumps(synth.template_json)  # as a property name, anywhere


# --- logs, bucket, instance role ------------------------------------------------------------------------------------


def test_containers_log_group_is_named_after_the_instance(synth):
    synth.template.has_resource_properties(
        "AWS::Logs::LogGroup", {"LogGroupName": "l0-l0", "RetentionInDays": Match.any_value()}
    )


def test_every_log_group_has_a_retention(synth):
    for logical_id, group in synth.resources("AWS::Logs::LogGroup").items():
        assert group["Properties"].get("RetentionInDays"), logical_id


def test_registry_bucket_is_private_encrypted_versioned_ssl_only_and_logged(synth):
    buckets = synth.resources("AWS::S3::Bucket")
    assert len(buckets) == 2  # the registry credentials and its access logs
    for logical_id, bucket in buckets.items():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, logical_id
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"], logical_id
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}, logical_id
        policy = [
            p["Properties"]["PolicyDocument"]
            for p in synth.resources("AWS::S3::BucketPolicy").values()
            if references(p["Properties"]["Bucket"], logical_id)
        ]
        assert any(
            s["Effect"] == "Deny" and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
            for doc in policy
            for s in doc["Statement"]
        ), f"{logical_id} does not deny plain HTTP"
    registry_id = synth.stack.resolve(synth.stack.get_logical_id(synth.stack.data.registry_bucket.node.default_child))
    assert "LoggingConfiguration" in buckets[registry_id]["Properties"]


def test_ecs_instance_role_and_profile(synth):
    roles = {
        k: v
        for k, v in synth.resources("AWS::IAM::Role").items()
        if v["Properties"].get("RoleName") == "l0-l0-ecs-instance"
    }
    role_id, role = only(roles, "ECS instance role")
    props = role["Properties"]
    assert [s["Principal"] for s in props["AssumeRolePolicyDocument"]["Statement"]] == [
        {"Service": "ec2.amazonaws.com"}
    ]
    assert "AmazonEC2ContainerServiceforEC2Role" in json.dumps(props["ManagedPolicyArns"])
    _, profile = only(synth.resources("AWS::IAM::InstanceProfile"), "instance profile")
    assert profile["Properties"]["InstanceProfileName"] == "l0-l0-ecs-instance"
    assert profile["Properties"]["Roles"] == [{"Ref": role_id}]
    # It reads the dockercfg under bootstrap/ and nothing else of the bucket.
    [statement] = statements(synth.template_json, role_id)
    assert statement["Action"] == "s3:GetObject"
    assert json.dumps(statement["Resource"]).endswith('"/bootstrap/*"]]}')


# --- network ------------------------------------------------------------------------------------------------------


def test_new_vpc_two_azs_one_nat_tiered_subnets_and_flow_logs(synth):
    only(synth.resources("AWS::EC2::VPC"), "VPC")
    assert len(synth.resources("AWS::EC2::NatGateway")) == 1
    tiers = [
        {t["Key"]: t["Value"] for t in s["Properties"]["Tags"]}.get("Tier")
        for s in synth.resources("AWS::EC2::Subnet").values()
    ]
    assert sorted(tiers) == ["Private", "Private", "Public", "Public"]
    _, flow_log = only(synth.resources("AWS::EC2::FlowLog"), "flow log")
    assert flow_log["Properties"]["LogDestinationType"] == "cloud-watch-logs"


# --- functions ----------------------------------------------------------------------------------------------------


def test_functions_share_one_runtime_and_the_settings_environment(synth):
    env_names = set(re.findall(r'"(LAYER0_[A-Z0-9_]+)"', SETTINGS_SOURCE))
    required = {
        "LAYER0_PREFIX", "LAYER0_API_VERSION", "LAYER0_AWS_DYNAMO_TAG_TABLE", "LAYER0_AWS_DYNAMO_JOB_TABLE",
        "LAYER0_IDEMPOTENCY_TABLE", "LAYER0_AUTH_SECRET_ID", "LAYER0_AWS_VPC_ID", "LAYER0_AWS_PUBLIC_SUBNETS",
        "LAYER0_AWS_PRIVATE_SUBNETS", "LAYER0_AWS_S3_BUCKET", "LAYER0_AWS_ECS_INSTANCE_PROFILE", "LAYER0_LOG_GROUP",
        "LAYER0_AWS_CONTAINERS",
    }  # fmt: skip
    assert required <= env_names, "settings.py no longer reads a variable CDK sets"
    for handler in (contract.API_HANDLER, contract.AUTHORIZER_HANDLER):
        _, props = function(synth.template_json, handler)
        variables = props["Environment"]["Variables"]
        layer0 = {k for k in variables if k.startswith("LAYER0_")}
        assert required <= layer0, handler
        assert layer0 <= env_names, f"{handler}: CDK sets variables settings.py does not read: {layer0 - env_names}"
        assert variables["LAYER0_PREFIX"] == "l0"
        assert variables["LAYER0_API_VERSION"] == DEFAULT_API_VERSION
        assert variables["LAYER0_CONTAINER_POLICY"] == "permissive"
        assert variables["POWERTOOLS_SERVICE_NAME"].startswith("layer0-")
        assert props["Runtime"].startswith("python3.")
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["FunctionName"].startswith("l0-l0-")
        assert "LoggingConfig" in props


def test_function_environment_points_at_the_stack_resources(synth):
    _, props = function(synth.template_json, contract.API_HANDLER)
    variables = props["Environment"]["Variables"]
    tables = {t["Properties"]["TableName"]: k for k, t in synth.resources("AWS::DynamoDB::Table").items()}
    for spec in contract.TABLES:
        assert variables[spec.setting] == {"Ref": tables[f"l0-l0-{spec.name_suffix}"]}
    secret_id, _ = only(synth.resources("AWS::SecretsManager::Secret"), "secret")
    assert variables["LAYER0_AUTH_SECRET_ID"] == {"Ref": secret_id}  # the ARN
    profile_id, _ = only(synth.resources("AWS::IAM::InstanceProfile"), "instance profile")
    assert variables["LAYER0_AWS_ECS_INSTANCE_PROFILE"] == {"Ref": profile_id}  # the name
    vpc_id, _ = only(synth.resources("AWS::EC2::VPC"), "VPC")
    assert variables["LAYER0_AWS_VPC_ID"] == {"Ref": vpc_id}
    for name in ("LAYER0_AWS_PUBLIC_SUBNETS", "LAYER0_AWS_PRIVATE_SUBNETS"):
        separator, subnets = variables[name]["Fn::Join"]
        assert separator == "," and len(subnets) == 2
    log_groups = {g["Properties"].get("LogGroupName"): k for k, g in synth.resources("AWS::Logs::LogGroup").items()}
    assert variables["LAYER0_LOG_GROUP"] == {"Ref": log_groups["l0-l0"]}


def test_reserved_concurrency_and_aws_rate_come_from_one_setting(synth):
    throughput = synth.stack.config.throughput
    assert throughput == DEFAULT.throughput
    _, props = function(synth.template_json, contract.API_HANDLER)
    assert props["ReservedConcurrentExecutions"] == throughput.api_concurrency == 10
    variables = props["Environment"]["Variables"]
    # Unset by default: each AWS service's pace comes from its quota, shared among the containers that call at once.
    assert "LAYER0_AWS_RATE" not in variables and "LAYER0_AWS_BURST" not in variables
    assert int(variables["LAYER0_AWS_CONTAINERS"]) == throughput.aws_containers == 14
    assert throughput.aggregate_aws_rate is None


def test_lambda_roles_have_no_managed_policies(synth):
    for handler in (contract.API_HANDLER, contract.AUTHORIZER_HANDLER):
        _, props = function(synth.template_json, handler)
        role_id = props["Role"]["Fn::GetAtt"][0]
        role = synth.template_json["Resources"][role_id]["Properties"]
        assert "ManagedPolicyArns" not in role, handler  # no AWSLambdaBasicExecutionRole: logs:* on everything


# --- IAM ----------------------------------------------------------------------------------------------------------


def _all_statements(template):
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::IAM::Policy":
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                yield logical_id, statement
        if resource["Type"] == "AWS::IAM::Role":
            for policy in resource["Properties"].get("Policies", []):
                for statement in policy["PolicyDocument"]["Statement"]:
                    yield logical_id, statement


# What Step Functions needs to deliver execution logs to CloudWatch Logs: these actions take no resource ARN.
LOG_DELIVERY_ACTIONS = {
    "logs:CreateLogDelivery", "logs:DeleteLogDelivery", "logs:DescribeLogGroups", "logs:DescribeResourcePolicies",
    "logs:GetLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:UpdateLogDelivery",
}  # fmt: skip
# What the API function may do with the job state machines (layer0.jobs).
JOB_ACTIONS = {
    "states:StartExecution",
    "states:StopExecution",
    "states:DescribeExecution",
    "states:GetExecutionHistory",
}


def test_no_wildcard_actions_and_star_resources_only_for_xray(synth):
    machine_roles = {
        props["Properties"]["RoleArn"]["Fn::GetAtt"][0]
        for props in synth.resources("AWS::StepFunctions::StateMachine").values()
    }
    for logical_id, statement in _all_statements(synth.template_json):
        actions = as_list(statement["Action"])
        assert not any(a == "*" or a.endswith(":*") for a in actions), (logical_id, actions)
        if "*" in as_list(statement["Resource"]) and not set(actions) <= (
            ENVIRONMENT_STAR_ACTIONS
            | DEPLOY_STAR_ACTIONS
            | LOAD_BALANCER_STAR_ACTIONS
            | AUTOSCALING_STAR_ACTIONS
            | SECRET_STAR_ACTIONS
        ):
            xray = {a for a in actions if a.startswith("xray:")}
            if set(actions) - xray:
                # Only the state machines' role, and only for log delivery.
                roles = {r["Ref"] for r in synth.template_json["Resources"][logical_id]["Properties"]["Roles"]}
                assert roles <= machine_roles and set(actions) - xray <= LOG_DELIVERY_ACTIONS, (logical_id, statement)


def test_api_function_reads_and_writes_exactly_the_three_tables(synth):
    _, props = function(synth.template_json, contract.API_HANDLER)
    role_id = props["Role"]["Fn::GetAtt"][0]
    table_ids = set(synth.resources("AWS::DynamoDB::Table"))
    dynamo = [s for s in statements(synth.template_json, role_id) if as_list(s["Action"])[0].startswith("dynamodb:")]
    assert dynamo
    actions = {a for s in dynamo for a in as_list(s["Action"])}
    assert {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:DescribeTable"} <= actions
    # Powertools Idempotency (functions/handlers/api/idempotency.py) also updates and deletes its records.
    assert {"dynamodb:UpdateItem", "dynamodb:DeleteItem"} <= actions
    for statement in dynamo:
        assert {r["Fn::GetAtt"][0] for r in as_list(statement["Resource"])} == table_ids
    others = [s for s in statements(synth.template_json, role_id) if s not in dynamo]
    assert {a for s in others for a in as_list(s["Action"])} == {
        *ENVIRONMENT_ACTIONS, *SCALER_TRIGGER_ACTIONS,
        *SERVICE_ACTIONS,
        *AUTOSCALING_ACTIONS,
        *DEPLOY_ACTIONS,
        *LOAD_BALANCER_ACTIONS,
        *SECRET_API_ACTIONS,
        "logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTelemetryRecords", "xray:PutTraceSegments",
        *JOB_ACTIONS,
    }  # fmt: skip


def test_authorizer_may_only_read_the_secret(synth):
    _, props = function(synth.template_json, contract.AUTHORIZER_HANDLER)
    role_id = props["Role"]["Fn::GetAtt"][0]
    secret_id, _ = only(synth.resources("AWS::SecretsManager::Secret"), "secret")
    secret_statements = [
        s for s in statements(synth.template_json, role_id) if "secretsmanager" in json.dumps(s["Action"])
    ]
    assert secret_statements == [
        {
            "Action": "secretsmanager:GetSecretValue",
            "Effect": "Allow",
            "Resource": {"Ref": secret_id},
            "Sid": "ReadAuthSecret",
        }
    ]
    assert not any("dynamodb" in json.dumps(s) for s in statements(synth.template_json, role_id))


# --- API Gateway --------------------------------------------------------------------------------------------------


def test_one_method_per_contract_route_and_authorizer_exactly_on_auth_routes(synth):
    found = methods(synth.template_json)
    routes = {(r.method, r.path): r for r in contract.ROUTES}
    assert {k for k in found if k[0] != "OPTIONS"} == set(routes)
    authorizer_id, _ = only(synth.resources("AWS::ApiGateway::Authorizer"), "authorizer")
    api_alias_id = snapstart_alias(synth.template_json)
    for key, route in routes.items():
        props = found[key]
        if route.auth:
            assert props["AuthorizationType"] == "CUSTOM", key
            assert props["AuthorizerId"] == {"Ref": authorizer_id}, key
        else:
            assert props["AuthorizationType"] == "NONE", key
            assert "AuthorizerId" not in props, key
        assert props["Integration"]["Type"] == "AWS_PROXY", key
        # The alias, whose published version SnapStart restores; never the function's $LATEST.
        assert references(props["Integration"]["Uri"], api_alias_id), key
    assert found[("GET", "/health")]["AuthorizationType"] == "NONE"
    assert found[("GET", "/admin/config")]["AuthorizationType"] == "NONE"
    # The API's description is public: Swagger UI sends the token itself (docs/compatibility.md#auth).
    assert found[("GET", "/openapi.json")]["AuthorizationType"] == "NONE"
    assert found[("GET", "/swagger")]["AuthorizationType"] == "NONE"


def test_every_route_has_an_open_cors_preflight_with_the_contract_policy(synth):
    found = methods(synth.template_json)
    for path in {r.path for r in contract.ROUTES}:
        props = found[("OPTIONS", path)]
        assert props["AuthorizationType"] == "NONE"
        integration = props["Integration"]
        assert integration["Type"] == "MOCK"
        [response] = integration["IntegrationResponses"]
        headers = response["ResponseParameters"]
        assert "method.response.header.Access-Control-Allow-Credentials" not in headers
        assert headers["method.response.header.Access-Control-Allow-Headers"] == (
            "'Origin,Content-Type,X-Auth-Token,Authorization,Idempotency-Key'"
        )
        assert headers["method.response.header.Access-Control-Allow-Origin"] == "'*'"


def test_request_authorizer_on_the_authorization_header_cached_300s(synth):
    _, authorizer = only(synth.resources("AWS::ApiGateway::Authorizer"), "authorizer")
    props = authorizer["Properties"]
    assert props["Type"] == "REQUEST"
    assert props["IdentitySource"] == "method.request.header.Authorization"
    assert props["AuthorizerResultTtlInSeconds"] == 300
    # The alias of its published version, which SnapStart restores (test_infra_cold_start.py).
    assert references(props["AuthorizerUri"], snapstart_alias(synth.template_json, contract.AUTHORIZER_HANDLER))


def test_one_lambda_permission_for_each_alias_api_gateway_invokes(synth):
    permissions = synth.resources("AWS::Lambda::Permission").values()
    for handler in (contract.API_HANDLER, contract.AUTHORIZER_HANDLER):
        function_id, _ = function(synth.template_json, handler)
        alias_id = snapstart_alias(synth.template_json, handler)
        assert sum(references(p["Properties"]["FunctionName"], alias_id) for p in permissions) == 1, handler
        # Never the function itself: its $LATEST does not run from the snapshot.
        assert not any(references(p["Properties"]["FunctionName"], function_id) for p in permissions), handler


def test_gateway_responses_follow_the_contract(synth):
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in synth.resources("AWS::ApiGateway::GatewayResponse").values()
    }
    assert set(responses) == set(contract.GATEWAY_RESPONSES)
    for response_type, expected in contract.GATEWAY_RESPONSES.items():
        props = responses[response_type]
        assert props.get("StatusCode") == (None if expected.status is None else str(expected.status)), response_type
        assert props["ResponseTemplates"] == {"application/json": expected.body}, response_type
        headers = props["ResponseParameters"]
        assert headers["gatewayresponse.header.Access-Control-Allow-Origin"] == "'*'"
        assert "gatewayresponse.header.Access-Control-Allow-Credentials" not in headers
        assert headers["gatewayresponse.header.Version"] == f"'{DEFAULT_API_VERSION}'"
        assert headers["gatewayresponse.header.Content-Type"] == f"'{expected.content_type}'"
        for name, value in expected.headers:
            assert headers[f"gatewayresponse.header.{name}"] == f"'{value}'"
    assert responses["UNAUTHORIZED"]["StatusCode"] == "401"
    # No browser prompt: a browser that stored Basic credentials would send them from any web page.
    assert "gatewayresponse.header.WWW-Authenticate" not in responses["UNAUTHORIZED"]["ResponseParameters"]
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["StatusCode"] == "404"
    assert "StatusCode" not in responses["DEFAULT_5XX"]  # keeps 502, 504... as API Gateway chose


def test_regional_api_with_a_traced_throttled_logged_stage(synth):
    _, api = only(synth.resources("AWS::ApiGateway::RestApi"), "REST API")
    assert api["Properties"]["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    assert api["Properties"]["Name"] == "l0-l0"
    _, stage = only(synth.resources("AWS::ApiGateway::Stage"), "stage")
    props = stage["Properties"]
    assert props["StageName"] == "api"
    assert props["TracingEnabled"] is True
    assert json.loads(props["AccessLogSetting"]["Format"])["requestId"] == "$context.requestId"
    [settings] = props["MethodSettings"]
    assert (settings["HttpMethod"], settings["ResourcePath"]) == ("*", "/*")
    assert settings["ThrottlingRateLimit"] == DEFAULT.throughput.api_throttle_rate
    assert settings["ThrottlingBurstLimit"] == DEFAULT.throughput.api_throttle_burst
    assert not synth.resources("AWS::ApiGateway::Account")  # no account-wide CloudWatch role takeover


# --- outputs ------------------------------------------------------------------------------------------------------


def test_outputs_endpoint_secret_and_export_hint(synth):
    outputs = synth.template_json["Outputs"]
    assert {"Endpoint", "AuthSecretArn", "Export"} <= set(outputs)
    stage_id, _ = only(synth.resources("AWS::ApiGateway::Stage"), "stage")
    separator, parts = outputs["Endpoint"]["Value"]["Fn::Join"]
    # The stage URL with its trailing slash: clients resolve relative paths ("environment/") against it.
    assert parts[0] == "https://" and parts[-2:] == [{"Ref": stage_id}, "/"]
    secret_id, _ = only(synth.resources("AWS::SecretsManager::Secret"), "secret")
    assert outputs["AuthSecretArn"]["Value"] == {"Ref": secret_id}
    export = json.dumps(outputs["Export"]["Value"])
    assert "export LAYER0_API_ENDPOINT=" in export
    assert "export LAYER0_AUTH_TOKEN=" in export
    assert "aws secretsmanager get-secret-value --secret-id" in export
    assert references(outputs["Export"]["Value"], secret_id)
