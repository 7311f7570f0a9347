"""`/health`, `/admin/*`, `/openapi.json` and `/swagger`."""

import boto3
import pytest

from layer0 import contract
from layer0 import settings


def test_health(api):
    response = api.anonymous.get(api.url + "health")
    assert response.status_code == 200
    assert response.json() == ""


def test_version_is_a_json_string(api):
    response = api.get("/admin/version")
    assert response.status_code == 200
    assert response.json() == settings.get().api_version


def test_config_describes_the_network(api):
    config = api.anonymous.get(api.url + "admin/config").json()
    ec2 = boto3.client("ec2")
    assert config["prefix"] == "l0"
    assert ec2.describe_vpcs(VpcIds=[config["vpc_id"]])["Vpcs"]
    for tier, key in (("Public", "public_subnets"), ("Private", "private_subnets")):
        subnets = ec2.describe_subnets(SubnetIds=config[key])["Subnets"]
        assert len(subnets) == 2
        assert all({"Key": "Tier", "Value": tier} in subnet["Tags"] for subnet in subnets)


def test_sql_checks_the_tables_and_answers_204(api):
    response = api.post("/admin/sql", json={"version": "latest"})
    assert response.status_code == 204
    assert response.text == ""


def test_sql_without_its_tables_is_a_clear_error(api):
    boto3.client("dynamodb").delete_table(TableName=settings.get().job_table)
    response = api.post("/admin/sql", json={"version": "latest"})
    assert response.status_code == 500
    assert response.json() == {"error_code": 21, "message": "Table 'l0-l0-jobs' does not exist"}


def test_sql_seeds_no_default_tags(api):
    api.post("/admin/sql", json={"version": "latest"})
    for entity_type in ("environment", "load_balancer", "service"):
        assert api.get(f"/tag?type={entity_type}").json() == []


def test_openapi_is_3_1_and_documents_every_route(api):
    document = api.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    served = {(route.method, route.path) for route in contract.ROUTES if route.path not in ("/openapi.json", "/swagger")}
    assert documented == served
    assert document["components"]["securitySchemes"]["layer0Token"]["scheme"] == "basic"


def test_openapi_documents_each_route_s_success_body_and_the_401_of_the_token(api):
    # Found by tests/fuzz: Powertools drops the return annotation's 200 once a route lists `responses`.
    paths = api.get("/openapi.json").json()["paths"]
    for route in contract.ROUTES:
        if route.path in ("/openapi.json", "/swagger"):
            continue
        responses = paths[route.path][route.method.lower()]["responses"]
        assert any(status.startswith("2") for status in responses), route
        assert ("401" in responses) == route.auth, route
    environment = paths["/environment/{id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert environment == {"$ref": "#/components/schemas/Environment"}
    # An empty answer documents no media type; a bad body is a documented 400.
    assert paths["/admin/sql"]["post"]["responses"]["204"]["content"] == {}
    assert "400" in paths["/admin/sql"]["post"]["responses"]


def test_swagger_ui_loads_nothing_from_outside(api):
    response = api.get("/swagger")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "SwaggerUIBundle" in response.text  # the bundle is inlined from the installed package
    assert "<script src=\"http" not in response.text and "<link rel=\"stylesheet\" href=\"http" not in response.text


def test_swagger_is_public_and_prompts_for_nothing(api):
    response = api.anonymous.get(api.url + "swagger")
    assert response.status_code == 200
    assert "WWW-Authenticate" not in response.headers


RESOURCE_TAGS = ["environment", "deploy", "service", "task", "load balancer", "secret", "job", "tag", "admin"]
TAG_OF_PATH = {"environment": "environment", "deploy": "deploy", "service": "service", "task": "task",
               "loadbalancer": "load balancer", "secret": "secret", "job": "job", "tag": "tag", "admin": "admin",
               "health": "admin"}  # fmt: skip


@pytest.mark.parametrize("document_path", ["openapi.json", "swagger?format=json"])
def test_swagger_groups_the_routes_by_resource_in_order_each_with_a_summary(api, document_path):
    document = api.anonymous.get(api.url + document_path).json()
    assert [tag["name"] for tag in document["tags"]] == RESOURCE_TAGS
    assert all(tag["description"] for tag in document["tags"])
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert operation["tags"] == [TAG_OF_PATH[path.split("/")[1]]], (method, path)
            assert operation["summary"], (method, path)


def test_openapi_documents_the_refusals_before_routing(api):
    paths = api.get("/openapi.json").json()["paths"]
    for route in contract.ROUTES:
        if not route.auth or route.path in ("/openapi.json", "/swagger"):
            continue
        responses = paths[route.path][route.method.lower()]["responses"]
        assert {"403", "413", "415"} <= set(responses), route
        assert responses["415"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ServerError"}
