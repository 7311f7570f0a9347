"""Fixes to moto's Step Functions interpreter (``moto.stepfunctions.parser``; moto pinned at 5.2.5).

Every patch here works around one moto bug that hits a Layer0 workflow. Each is a small named function with an
undo (local/patching.py), and each has a test in ``tests/unit/test_moto_patches.py`` that proves moto is *still*
buggy without it: the day that test fails, moto fixed the bug upstream and the patch can be deleted. They are
permanent (local mode and tests), applied with the other permanent patches by :func:`local.moto_patches.apply`:

- :func:`patch_task_parameter_casing`   aws-sdk/ECS parameter and response casing (moto #10076)
- :func:`patch_definite_json_path`      ``$.a[0].b`` yields ``b``, not ``[b]``
- :func:`patch_sdk_service_names`       ``aws-sdk:elasticloadbalancingv2`` -> boto ``elbv2`` (and ``elb``)
- :func:`patch_json_native_timestamps`  ``datetime`` in SDK results -> ISO strings (else describe_execution 500s)
- :func:`quiet_parser_logger`           the interpreter logs every failed state at WARNING/ERROR

The test-only instant waits (Wait states and Retry backoff) are in local/testing.py.
"""

from __future__ import annotations

import datetime as _dt
import functools
import logging
from collections.abc import Callable
from typing import Any

from local import patching

__all__ = [
    "PATCHES",
    "patch_task_parameter_casing",
    "patch_definite_json_path",
    "patch_sdk_service_names",
    "patch_json_native_timestamps",
    "quiet_parser_logger",
]

_PARSER = "moto.stepfunctions.parser"
_TASK_SERVICE_MODULE = f"{_PARSER}.asl.component.state.exec.state_task.service.state_task_service"
_JSON_PATH_MODULE = f"{_PARSER}.asl.utils.json_path"


# --------------------------------------------------------------------------------------------------------------
# a. Parameter and response casing of service integrations (moto #10076)
# --------------------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _operation_model(boto_service_name: str, boto_action: str) -> Any:
    """The botocore OperationModel for ``(service, snake_case_action)``, or None when unknown."""
    import botocore.session
    from botocore import xform_name
    from moto.stepfunctions.parser.utils import camel_to_snake_case

    try:
        service_model = botocore.session.get_session().get_service_model(boto_service_name)
    except Exception:  # UnknownServiceError and friends: leave the parameters as they are
        return None
    for operation_name in service_model.operation_names:
        if boto_action in (xform_name(operation_name), camel_to_snake_case(operation_name)):
            return service_model.operation_model(operation_name)
    return None


def _operation_of(self: Any, boto_service_name: str | None, service_action_name: str | None) -> Any:
    """The botocore operation model of the task this service integration runs."""
    return _operation_model(
        self._get_boto_service_name(boto_service_name=boto_service_name),
        self._get_boto_service_action(service_action_name=service_action_name),
    )


def _normalise_parameters(
    self: Any,
    parameters: dict,
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    """ASL parameters (``Cluster``, ``Clusters``) -> the botocore request members (``cluster``, ``clusters``)."""
    operation = _operation_of(self, boto_service_name, service_action_name)
    if operation is not None and operation.input_shape is not None:
        self._to_boto_request(parameters, operation.input_shape)


def _normalise_response(
    self: Any,
    response: Any,
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    """botocore response members (``clusters[].status``) -> Step Functions casing (``Clusters[].Status``)."""
    operation = _operation_of(self, boto_service_name, service_action_name)
    if operation is not None and operation.output_shape is not None:
        self._from_boto_response(response, operation.output_shape)


def patch_task_parameter_casing() -> None:
    """Restore request/response normalisation of Task service integrations (moto issue #10076, open).

    ASL writes the parameters of ``aws-sdk:*`` and ``ecs:*`` tasks in PascalCase (``"Cluster"``) and real Step
    Functions returns responses in PascalCase (``Clusters[0].Status``). moto 5.2.5 reduced
    ``StateTaskService._normalise_parameters`` and ``_normalise_response`` to ``pass``, so the PascalCase names
    reach boto (``KeyError``/``States.Runtime``, or a request boto silently ignores) and responses come back
    camelCase (moto's own ``ecs:runTask`` then fails on ``response["Tasks"]``). The class still has LocalStack's
    ``_to_boto_request(parameters, shape)`` and ``_from_boto_response(response, shape)``; this calls them with
    the botocore operation model's input and output shapes, which is what LocalStack does.
    """
    name = "task_parameter_casing"
    with patching.lock:
        if name in patching.undos:
            return
        cls = patching.import_module(_TASK_SERVICE_MODULE).StateTaskService
        original_parameters = cls.__dict__["_normalise_parameters"]
        original_response = cls.__dict__["_normalise_response"]
        cls._normalise_parameters = _normalise_parameters
        cls._normalise_response = _normalise_response

        def undo() -> None:
            cls._normalise_parameters = original_parameters
            cls._normalise_response = original_response

        patching.undos[name] = undo


# --------------------------------------------------------------------------------------------------------------
# b. JSONPath on definite paths
# --------------------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=2048)
def _parsed_definite_path(path: str) -> Any:
    """The parsed JSONPath when ``path`` is definite (names and single indexes only), else None."""
    from jsonpath_ng.ext import parse
    from jsonpath_ng.jsonpath import Child, Fields, Index, Root, This

    try:
        expr = parse(path)
    except Exception:
        return None

    def definite(node: Any) -> bool:
        if isinstance(node, (Root, This)):
            return True
        if isinstance(node, Child):
            return definite(node.left) and definite(node.right)
        if type(node) is Fields:
            return len(node.fields) == 1 and node.fields[0] != "*"
        if type(node) is Index:
            return len(node.indices) == 1
        return False  # Wildcard, Slice, Descendants, Filter, Union, ...

    return expr if definite(expr) else None


def _make_extract_json(original: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
    def extract_json(path: str, data: Any) -> Any:
        """moto's ``extract_json``, except that a definite path with a match yields the matched value itself."""
        expr = _parsed_definite_path(path)
        if expr is not None:
            matches = expr.find(data)
            if len(matches) == 1:
                return matches[0].value
        return original(path, data)

    extract_json.__wrapped__ = original  # type: ignore[attr-defined]
    return extract_json


def patch_definite_json_path() -> None:
    """Make ``$.a[0].b`` yield the scalar ``b``, as real Step Functions does, not ``[b]``.

    moto's ``extract_json`` (``moto/stepfunctions/parser/asl/utils/json_path.py``) wraps the result in a list
    whenever the parent of the match is an array index: that fixes ``$.a[*].b`` on a one-item array (moto
    #7825) but breaks every *definite* path through an index. A Choice on ``$.x.Clusters[0].Status`` then
    compares ``["ACTIVE"]`` with ``"ACTIVE"`` and never matches, so a Wait/describe/Choice loop spins forever.
    The fix: a path made only of names and single indexes yields its one match as is; any other path
    (wildcards, slices, filters, ``..``) keeps moto's behaviour. ``extract_json`` is imported by name in
    several modules, so every module-level reference to the original is replaced.
    """
    name = "definite_json_path"
    with patching.lock:
        if name in patching.undos:
            return
        json_path = patching.import_module(_JSON_PATH_MODULE)
        original = json_path.extract_json
        patched = _make_extract_json(original)
        json_path.extract_json = patched
        _replace_references(original, patched, "extract_json")

        def undo() -> None:
            json_path.extract_json = original
            _replace_references(patched, original, "extract_json")  # modules imported meanwhile included

        patching.undos[name] = undo


def _replace_references(original: Any, patched: Any, attribute: str) -> None:
    """Rebind ``module.<attribute>`` from ``original`` to ``patched`` in every loaded moto parser module.

    The parser's modules are imported first so that the result does not depend on import order; modules
    imported later pick the patched function from ``json_path`` itself.
    """
    import sys

    patching.import_module(f"{_PARSER}.asl.parse.asl_parser")  # pulls in every component module
    for module_name, module in list(sys.modules.items()):
        if module is None or not module_name.startswith(_PARSER):
            continue
        if getattr(module, attribute, None) is original:
            setattr(module, attribute, patched)


# --------------------------------------------------------------------------------------------------------------
# c. Service names of aws-sdk integrations
# --------------------------------------------------------------------------------------------------------------

_SERVICE_NAME_OVERRIDES = {
    "elasticloadbalancingv2": "elbv2",
    "elasticloadbalancing": "elb",
}


def patch_sdk_service_names() -> None:
    """Map the Step Functions SDK service names of the load balancer APIs to boto's.

    ``arn:aws:states:::aws-sdk:elasticloadbalancingv2:describeLoadBalancers`` fails with "Unknown service:
    'elasticloadbalancingv2'" in moto 5.2.5 (no issue filed), because the name goes to ``boto3.client``
    unchanged. Real Step Functions names the APIs after their SDK ids; boto calls them ``elbv2`` and ``elb``.
    Adds both to ``StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES``.
    """
    name = "sdk_service_names"
    with patching.lock:
        if name in patching.undos:
            return
        overrides = patching.import_module(_TASK_SERVICE_MODULE).StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES
        added = {k: v for k, v in _SERVICE_NAME_OVERRIDES.items() if k not in overrides}
        overrides.update(added)

        def undo() -> None:
            for key in added:
                overrides.pop(key, None)

        patching.undos[name] = undo


# --------------------------------------------------------------------------------------------------------------
# e. Timestamps in service integration results
# --------------------------------------------------------------------------------------------------------------


def _iso_timestamp(value: _dt.date) -> str:
    """A timestamp as real Step Functions renders it in SDK results: ``2013-08-23T01:02:15.422Z``."""
    if not isinstance(value, _dt.datetime):
        return value.isoformat()
    if value.tzinfo is not None:
        value = value.astimezone(_dt.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _json_native(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _json_native(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_native(item) for item in value]
    if isinstance(value, _dt.date):
        return _iso_timestamp(value)
    return value


def patch_json_native_timestamps() -> None:
    """Turn ``datetime`` values in service integration results into ISO-8601 strings (no moto issue filed).

    moto hands the boto response of an ``aws-sdk:*``/``ecs:*`` task to the state machine as is, ``datetime``
    objects included (``elbv2:describeLoadBalancers`` ``CreatedTime``, ECS ``createdAt``...). When one reaches
    the execution's output, ``describe_execution`` raises ``TypeError: Object of type datetime is not JSON
    serializable`` (moto/stepfunctions/responses.py does a plain ``json.dumps``): the caller gets a 500 and the
    execution can no longer be described. Real Step Functions works on JSON only and renders SDK timestamps as
    strings like ``"2013-08-23T01:02:15.422Z"``; this converts the task's result the same way, right after
    ``StateTaskService._eval_execution``, before ResultSelector/ResultPath see it.
    """
    name = "json_native_timestamps"
    with patching.lock:
        if name in patching.undos:
            return
        cls = patching.import_module(_TASK_SERVICE_MODULE).StateTaskService
        original = cls.__dict__["_eval_execution"]

        @functools.wraps(original)
        def _eval_execution(self: Any, env: Any) -> None:
            original(self, env)
            if env.stack:
                env.stack[-1] = _json_native(env.stack[-1])

        cls._eval_execution = _eval_execution

        def undo() -> None:
            cls._eval_execution = original

        patching.undos[name] = undo


# --------------------------------------------------------------------------------------------------------------
# The parser's logger
# --------------------------------------------------------------------------------------------------------------


def quiet_parser_logger(level: int = logging.CRITICAL) -> None:
    """Silence ``moto.stepfunctions.parser``, which logs every failed or caught state, at every level of nesting.

    Not a bug fix: a Catch-handled error is normal flow for Layer0's workflows, and the execution history
    (``get_execution_history``) already holds every error and cause.
    """
    name = "quiet_parser_logger"
    with patching.lock:
        if name in patching.undos:
            return
        logger = logging.getLogger(_PARSER)
        previous = logger.level
        logger.setLevel(level)

        def undo() -> None:
            logger.setLevel(previous)

        patching.undos[name] = undo


# patch name -> patch, in the order local.moto_patches.apply() applies them.
PATCHES: dict[str, Callable[[], None]] = {
    "task_parameter_casing": patch_task_parameter_casing,
    "definite_json_path": patch_definite_json_path,
    "sdk_service_names": patch_sdk_service_names,
    "json_native_timestamps": patch_json_native_timestamps,
    "quiet_parser_logger": quiet_parser_logger,
}
