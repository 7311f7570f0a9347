"""`/tag` with exactly the semantics of docs/compatibility.md#tags."""

import pytest


def tag(api, entity_type, entity_id, key, value):
    response = api.post("/tag", json={"entity_type": entity_type, "entity_id": entity_id, "key": key, "value": value})
    assert response.status_code == 201, response.text
    assert response.text == ""


def ids(response):
    assert response.status_code == 200, response.text
    return [entity["entity_id"] for entity in response.json()]


@pytest.fixture
def deploys(api):
    for entity_id, name, version in (
        ("guestbook.1", "guestbook", "1"),
        ("guestbook.2", "guestbook", "2"),
        ("guestbook.10", "guestbook", "10"),
        ("alpine.1", "alpine", "1"),
    ):
        tag(api, "deploy", entity_id, "name", name)
        tag(api, "deploy", entity_id, "version", version)
    return api


def test_type_is_required(api):
    response = api.get("/tag")
    assert response.status_code == 400
    assert response.json() == {"error_code": 19, "message": "Parameter 'type' is required"}


def test_entities_are_grouped_with_their_tags(api):
    tag(api, "environment", "test1abcdef0", "name", "test1")
    tag(api, "environment", "test1abcdef0", "os", "linux")
    tag(api, "service", "svc", "name", "test1")
    assert api.get("/tag?type=environment").json() == [
        {
            "entity_id": "test1abcdef0",
            "entity_type": "environment",
            "tags": [
                {"entity_id": "test1abcdef0", "entity_type": "environment", "key": "name", "value": "test1"},
                {"entity_id": "test1abcdef0", "entity_type": "environment", "key": "os", "value": "linux"},
            ],
        }
    ]


def test_one_value_per_key(api):
    tag(api, "environment", "e1", "link", "e2")
    tag(api, "environment", "e1", "link", "e3")
    [entity] = api.get("/tag?type=environment&id=e1").json()
    assert [(t["key"], t["value"]) for t in entity["tags"]] == [("link", "e3")]


def test_id_selects_one_entity(api):
    tag(api, "environment", "e1", "name", "a")
    tag(api, "environment", "e2", "name", "b")
    assert ids(api.get("/tag?type=environment&id=e2")) == ["e2"]
    assert ids(api.get("/tag?type=environment&id=nope")) == []


def test_key_and_value_match_independently(api):
    # e1 has key `environment_id` and, on another tag, the value `x`: it matches environment_id=x.
    tag(api, "service", "e1", "environment_id", "y")
    tag(api, "service", "e1", "name", "x")
    tag(api, "service", "e2", "environment_id", "x")
    tag(api, "service", "e3", "name", "x")
    assert ids(api.get("/tag?type=service&environment_id=x")) == ["e1", "e2"]


def test_several_filters_must_all_match(api):
    tag(api, "service", "s1", "environment_id", "env1")
    tag(api, "service", "s1", "name", "web")
    tag(api, "service", "s2", "environment_id", "env2")
    tag(api, "service", "s2", "name", "web")
    assert ids(api.get("/tag?type=service&name=web&environment_id=env2")) == ["s2"]


def test_fuzz_matches_a_prefix_of_the_id_or_the_name(api):
    tag(api, "environment", "test1abcdef0", "name", "test1")
    tag(api, "environment", "prodabcdef00", "name", "t-prod")
    tag(api, "environment", "tnoname00000", "os", "linux")
    tag(api, "environment", "other0000000", "os", "linux")
    assert ids(api.get("/tag?type=environment&fuzz=t")) == ["prodabcdef00", "test1abcdef0", "tnoname00000"]
    assert ids(api.get("/tag?type=environment&fuzz=test1")) == ["test1abcdef0"]
    # No name tag: only the id can match.
    assert ids(api.get("/tag?type=environment&fuzz=linux")) == []


def test_version_latest_keeps_the_highest_integer_version(deploys):
    assert ids(deploys.get("/tag?type=deploy&name=guestbook&version=latest")) == ["guestbook.10"]
    assert ids(deploys.get("/tag?type=deploy&fuzz=alp&version=latest")) == ["alpine.1"]
    assert ids(deploys.get("/tag?type=deploy&name=nothing&version=latest")) == []


def test_version_other_than_latest_is_an_ordinary_filter(deploys):
    assert ids(deploys.get("/tag?type=deploy&name=guestbook&version=2")) == ["guestbook.2"]


def test_a_non_integer_version_is_a_clear_400(deploys):
    tag(deploys, "deploy", "guestbook.x", "name", "guestbook")
    tag(deploys, "deploy", "guestbook.x", "version", "x")
    response = deploys.get("/tag?type=deploy&name=guestbook&version=latest")
    assert response.status_code == 400
    assert response.json()["error_code"] == 18


def test_first_value_of_a_repeated_parameter_counts(api):
    tag(api, "environment", "e1", "name", "a")
    assert ids(api.get("/tag?type=environment&type=service")) == ["e1"]


def test_delete_removes_one_key_then_the_entity(api):
    tag(api, "environment", "e1", "name", "a")
    tag(api, "environment", "e1", "os", "linux")
    body = {"entity_type": "environment", "entity_id": "e1", "key": "os"}
    response = api.delete("/tag", json=body)
    assert response.status_code == 204 and response.text == ""
    [entity] = api.get("/tag?type=environment").json()
    assert [t["key"] for t in entity["tags"]] == ["name"]
    assert api.delete("/tag", json=body).status_code == 204  # a missing key is a no-op
    api.delete("/tag", json={**body, "key": "name"})
    assert api.get("/tag?type=environment").json() == []


@pytest.mark.parametrize("missing", ["entity_type", "entity_id", "key"])
def test_post_and_delete_need_type_id_and_key(api, missing):
    body = {"entity_type": "environment", "entity_id": "e1", "key": "name", "value": "a"}
    body[missing] = ""
    for method in (api.post, api.delete):
        response = method("/tag", json=body)
        assert response.status_code == 400
        assert response.json() == {"error_code": 19, "message": f"Parameter '{missing}' is required"}
    assert api.get("/tag?type=environment").json() == []
