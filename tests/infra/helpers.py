"""Small readers of a synthesized template."""

from __future__ import annotations

from typing import Any


def resource_paths(template: dict[str, Any]) -> dict[str, str]:
    """Logical id of each AWS::ApiGateway::Resource -> its full path ("/admin/config")."""
    resources = {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::ApiGateway::Resource"}
    paths: dict[str, str] = {}

    def path_of(logical_id: str) -> str:
        if logical_id not in paths:
            props = resources[logical_id]["Properties"]
            parent = props["ParentId"]
            prefix = path_of(parent["Ref"]) if "Ref" in parent else ""  # GetAtt RootResourceId: the root
            paths[logical_id] = f"{prefix}/{props['PathPart']}"
        return paths[logical_id]

    for logical_id in resources:
        path_of(logical_id)
    return paths


def methods(template: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(HTTP method, path) -> the AWS::ApiGateway::Method's properties."""
    paths = resource_paths(template)
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::ApiGateway::Method":
            continue
        props = resource["Properties"]
        ref = props["ResourceId"]
        path = paths[ref["Ref"]] if "Ref" in ref else "/"
        key = (props["HttpMethod"], path)
        assert key not in found, f"two methods for {key}"
        found[key] = props
    return found


def references(value: Any, logical_id: str) -> bool:
    """Whether a CloudFormation value refers to `logical_id` (Ref or GetAtt, however nested)."""
    if isinstance(value, dict):
        if value.get("Ref") == logical_id:
            return True
        get_att = value.get("Fn::GetAtt")
        if isinstance(get_att, list) and get_att and get_att[0] == logical_id:
            return True
        return any(references(v, logical_id) for v in value.values())
    if isinstance(value, list):
        return any(references(v, logical_id) for v in value)
    return False


def only(items: dict[str, Any], description: str) -> tuple[str, Any]:
    assert len(items) == 1, f"expected exactly one {description}, got {sorted(items)}"
    return next(iter(items.items()))


def function(template: dict[str, Any], handler: str) -> tuple[str, dict[str, Any]]:
    found = {
        k: v["Properties"]
        for k, v in template["Resources"].items()
        if v["Type"] == "AWS::Lambda::Function" and v["Properties"].get("Handler") == handler
    }
    return only(found, f"function with handler {handler}")


def statements(template: dict[str, Any], role_logical_id: str) -> list[dict[str, Any]]:
    """Every statement of the inline policies attached to a role."""
    found = []
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        if any(r.get("Ref") == role_logical_id for r in resource["Properties"].get("Roles", [])):
            found.extend(resource["Properties"]["PolicyDocument"]["Statement"])
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def step_function(template: dict[str, Any], slug: str) -> tuple[str, dict[str, Any]]:
    """The step function of the job machine `l0-l0-job-<slug>`: `l0-l0-job-<slug>-step` (infra/workflows/construct.py)."""
    found = {
        k: v["Properties"]
        for k, v in template["Resources"].items()
        if v["Type"] == "AWS::Lambda::Function" and v["Properties"].get("FunctionName") == f"l0-l0-job-{slug}-step"
    }
    return only(found, f"step function of job {slug}")


def step_role(template: dict[str, Any], slug: str) -> str:
    """The logical id of that step function's role."""
    return step_function(template, slug)[1]["Role"]["Fn::GetAtt"][0]


def granted(template: dict[str, Any], role_logical_id: str) -> set[str]:
    """Every action the role's inline policies allow."""
    return {a for s in statements(template, role_logical_id) for a in as_list(s["Action"])}


def snapstart_alias(template: dict[str, Any], handler: str = "handlers.api.handler") -> str:
    """The logical id of the alias of the function with this handler (the API function's by default): over a
    published version of that function, as SnapStart needs (docs/architecture.md#cold-start)."""
    function_id, _ = function(template, handler)
    resources = template["Resources"]
    aliases = {
        k: v["Properties"]
        for k, v in resources.items()
        if v["Type"] == "AWS::Lambda::Alias" and references(v["Properties"]["FunctionName"], function_id)
    }
    alias_id, alias = only(aliases, f"Lambda alias of {handler}")
    version_id = alias["FunctionVersion"]["Fn::GetAtt"][0]
    assert resources[version_id]["Type"] == "AWS::Lambda::Version"
    assert references(resources[version_id]["Properties"]["FunctionName"], function_id)
    return alias_id
