"""Cold start on AWS (docs/architecture.md#cold-start): every function on arm64 (the asset's wheels: test_infra_checks.py),
SnapStart on the API function and the authorizer, and API Gateway invoking the aliases of their published versions."""

from __future__ import annotations

from infra.functions import API_ALIAS
from layer0 import contract
from tests.infra.helpers import function, methods, references, snapstart_alias


def test_every_function_runs_on_arm64_python_3_14(synth):
    functions = synth.resources("AWS::Lambda::Function")
    assert len(functions) >= 3  # the API, the authorizer, the scaler and the job steps
    for logical_id, resource in functions.items():
        props = resource["Properties"]
        if "Handler" not in props:  # CDK's own custom-resource handlers, not ours
            continue
        assert props["Architectures"] == ["arm64"], logical_id
        if props["Handler"].startswith("handlers."):  # ours; CDK's deploy-trigger provider runs Node.js
            assert props["Runtime"] == "python3.14", logical_id


def test_snapstart_on_the_api_function_and_the_authorizer_only(synth):
    on_the_request_path = (contract.API_HANDLER, contract.AUTHORIZER_HANDLER)
    for handler in on_the_request_path:
        _, found = function(synth.template_json, handler)
        assert found["SnapStart"] == {"ApplyOn": "PublishedVersions"}, handler
    for logical_id, resource in synth.resources("AWS::Lambda::Function").items():
        if resource["Properties"].get("Handler") not in on_the_request_path:
            assert "SnapStart" not in resource["Properties"], logical_id


def test_api_gateway_invokes_the_api_alias(synth):
    alias_id = snapstart_alias(synth.template_json)
    assert synth.template_json["Resources"][alias_id]["Properties"]["Name"] == API_ALIAS
    proxied = [props for (verb, _), props in methods(synth.template_json).items() if verb != "OPTIONS"]
    assert proxied
    for props in proxied:
        uri = props["Integration"]["Uri"]["Fn::Join"][1]
        assert {"Ref": alias_id} in uri, uri


def test_api_gateway_invokes_the_authorizer_alias(synth):
    alias_id = snapstart_alias(synth.template_json, contract.AUTHORIZER_HANDLER)
    assert synth.template_json["Resources"][alias_id]["Properties"]["Name"] == API_ALIAS
    [authorizer] = synth.resources("AWS::ApiGateway::Authorizer").values()
    assert references(authorizer["Properties"]["AuthorizerUri"], alias_id)
