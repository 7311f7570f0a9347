"""docs/compatibility.md#http-conventions, docs/compatibility.md#errors: what every route shares, checked over HTTP."""

import base64

import pytest
from pydantic import ValidationError

from layer0.models import Base64Bytes, RequestModel
from layer0.settings import DEFAULT_API_VERSION


def test_every_answer_carries_the_version_header(api):
    assert api.get("/health").headers["Version"] == DEFAULT_API_VERSION
    assert api.get("/tag?type=environment").headers["Version"] == DEFAULT_API_VERSION
    assert api.get("/no/such/route").headers["Version"] == DEFAULT_API_VERSION
    assert api.anonymous.get(api.url + "admin/version").headers["Version"] == DEFAULT_API_VERSION


def test_missing_or_wrong_token_is_the_original_401(api):
    for headers in ({}, {"Authorization": "Basic bGF5ZXIwOm5vaGF4cGx6"}, {"Authorization": f"Bearer {api.token}"}):
        response = api.anonymous.get(api.url + "tag?type=environment", headers=headers)
        assert response.status_code == 401
        assert "WWW-Authenticate" not in response.headers  # no browser prompt (docs/compatibility.md#auth)
        assert response.text == "401: Not Authorized"


def test_open_routes_need_no_token(api):
    assert api.anonymous.get(api.url + "health").status_code == 200
    assert api.anonymous.get(api.url + "admin/config").status_code == 200
    assert api.anonymous.get(api.url + "openapi.json").status_code == 200
    assert api.anonymous.get(api.url + "swagger").status_code == 200
    assert api.anonymous.get(api.url + "admin/version").status_code == 401


def test_trailing_slash_is_ignored(api):
    api.post("/tag/", json={"entity_type": "environment", "entity_id": "e1", "key": "name", "value": "a"})
    with_slash = api.get("/tag/?type=environment")
    without = api.get("/tag?type=environment")
    assert with_slash.status_code == without.status_code == 200
    assert with_slash.json() == without.json() != []


def test_unknown_path_is_a_json_404(api):
    response = api.get("/environmentz")
    assert response.status_code == 404
    assert response.json() == {"error_code": 21, "message": "No route for GET /environmentz"}
    # An unknown path is answered before authorization, as API Gateway does.
    assert api.anonymous.get(api.url + "nope").status_code == 404


def test_cors_headers_when_an_origin_is_sent(api):
    response = api.get("/health", headers={"Origin": "https://ui.example.com"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in response.headers  # see contract.CORS_ALLOW_ORIGIN
    assert "Access-Control-Allow-Origin" not in api.get("/health").headers
    preflight = api.anonymous.options(
        api.url + "tag", headers={"Origin": "https://ui.example.com", "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"


def test_request_keys_match_case_insensitively(api):
    body = {"Entity_Type": "environment", "ENTITY_ID": "e9", "Key": "name", "VALUE": "mixed"}
    assert api.post("/tag", json=body).status_code == 201
    [entity] = api.get("/tag?type=environment&id=e9").json()
    assert entity["tags"] == [{"entity_id": "e9", "entity_type": "environment", "key": "name", "value": "mixed"}]


def test_undecodable_body_is_400_code_1_not_422(api):
    response = api.post("/tag", data="{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error_code"] == 1
    assert "decode" in response.json()["message"]


def test_a_body_that_is_not_utf8_is_400_code_1(api):
    # Found by tests/fuzz: Powertools' UTF-8 decoding of the body raised past its JSON validation, a 500.
    response = api.post("/tag", data=b'{"key": "\x9c"}', headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == 1
    assert "UTF-8" in response.json()["message"]


def test_wrong_type_is_400_code_1(api):
    response = api.post("/tag", json={"entity_type": ["x"], "entity_id": "e", "key": "k"})
    assert response.status_code == 400
    assert response.json()["error_code"] == 1
    assert "entity_type" in response.json()["message"]


def test_missing_parameter_is_400_code_19(api):
    response = api.post("/tag", json={"entity_type": "environment", "key": "name"})
    assert response.status_code == 400
    assert response.json() == {"error_code": 19, "message": "Parameter 'entity_id' is required"}


def test_missing_body_is_400_code_1(api):
    response = api.post("/tag")
    assert response.status_code == 400
    assert response.json()["error_code"] == 1


class _WithBytes(RequestModel):
    dockerrun: Base64Bytes = b""


def test_byte_fields_travel_as_base64():
    raw = b'{"containerDefinitions": []}'
    model = _WithBytes.model_validate({"DockerRun": base64.b64encode(raw).decode()})
    assert model.dockerrun == raw
    assert model.model_dump(mode="json") == {"dockerrun": base64.b64encode(raw).decode()}
    with pytest.raises(ValidationError, match="base64"):
        _WithBytes.model_validate({"dockerrun": "not base64!"})
