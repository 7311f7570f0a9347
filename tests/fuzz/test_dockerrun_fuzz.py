"""Fuzzing the Dockerrun's container definitions (docs/compatibility.md#container-definitions): documents generated
from botocore's model of ECS's ContainerDefinition, every field, with keys in any case and, now and then, a value of
the wrong type. The OpenAPI fuzz suite (test_openapi_fuzz.py) sends `dockerrun` as an opaque base64 string; this
one reaches inside it. Pure: `deploys.parse` calls nothing in AWS.

Every document must either parse into parameters botocore's model accepts (each container with a log
configuration, Layer0's awslogs default where none was given) or be refused with 400 and code 1: never any other
exception, which the API would answer with a 500.
"""

from __future__ import annotations

import json

import botocore.session
from botocore.model import ListShape, MapShape, Shape, StructureShape
from botocore.validate import ParamValidator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layer0 import deploys
from layer0.errors import ErrorCode, Layer0Error

MODEL = botocore.session.get_session().get_service_model("ecs")
REGISTER = MODEL.operation_model("RegisterTaskDefinition").input_shape
CONTAINER = MODEL.shape_for("ContainerDefinition")

WRONG = st.one_of(
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.text(max_size=5),
    st.lists(st.integers(0, 3), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(0, 3), max_size=2),
)
# Values the simulation and the rules look at, so that the generated documents reach past the type checks.
NAMES = st.sampled_from(["web", "init", "db"])
CONDITIONS = st.sampled_from(["START", "COMPLETE", "SUCCESS", "HEALTHY", "READY"])
HEALTH_CHECK_START = st.sampled_from(["CMD", "CMD-SHELL", "curl"])


def any_case(name: str) -> st.SearchStrategy[str]:
    return st.sampled_from([name, name.lower(), name.upper(), name[:1].upper() + name[1:]])


def values(shape: Shape, name: str = "", depth: int = 0) -> st.SearchStrategy:
    """Values of the right type for a shape, keys in any case."""
    if name == "containerName" or (name == "name" and depth == 1):
        return NAMES
    if name == "condition":
        return CONDITIONS
    if name == "command" and depth == 2 and isinstance(shape, ListShape):  # a health check's
        return st.lists(st.text(max_size=6), max_size=2).flatmap(
            lambda rest: HEALTH_CHECK_START.map(lambda s: [s, *rest])
        )
    if isinstance(shape, StructureShape):
        members = {member_name: values(member, member_name, depth + 1) for member_name, member in shape.members.items()}
        required = {key: members.pop(key) for key in shape.required_members}
        return st.fixed_dictionaries(required, optional=members).flatmap(recase)
    if isinstance(shape, ListShape):
        return st.lists(values(shape.member, name, depth + 1), max_size=2)
    if isinstance(shape, MapShape):
        return st.dictionaries(st.text(min_size=1, max_size=4), values(shape.value, "", depth + 1), max_size=2)
    if shape.type_name in ("integer", "long"):
        return st.one_of(st.integers(1, 12), st.integers(-5, 2000))  # within and beyond ECS's limits
    if shape.type_name == "boolean":
        return st.booleans()
    return st.sampled_from(shape.enum) if shape.enum else st.text(max_size=8)


def one_wrong(container: dict, field: str, value) -> dict:
    """The container with one field of the wrong type (or, for objects and arrays, of a wrong shape)."""
    return {**container, field: value}


def recase(document: dict) -> st.SearchStrategy[dict]:
    """The same document with each key in some case (Layer0 reads keys case-insensitively)."""
    if not document:
        return st.just(document)
    keys = st.tuples(*(any_case(key) for key in document))
    return keys.map(lambda cased: dict(zip(cased, document.values(), strict=True)))


CONTAINERS = st.one_of(
    values(CONTAINER),
    st.builds(one_wrong, values(CONTAINER), st.sampled_from(sorted(CONTAINER.members)), WRONG),
)
DOCKERRUNS = st.lists(CONTAINERS, min_size=1, max_size=3).map(lambda c: {"containerDefinitions": c})


@settings(max_examples=400, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(document=DOCKERRUNS)
def test_a_generated_dockerrun_parses_or_is_400_code_1(document):
    try:
        parameters = deploys.parse("web", json.dumps(document).encode())
    except Layer0Error as error:
        assert (error.status, error.code) == (400, ErrorCode.InvalidJSON), error.message
        return
    assert not ParamValidator().validate(parameters, REGISTER).has_errors()
    assert all(container.get("logConfiguration") for container in parameters["containerDefinitions"])
