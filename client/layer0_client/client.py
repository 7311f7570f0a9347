"""`Client`: one method per route of the Layer0 API (docs/compatibility.md#routes), over httpx.

- Every answer `{"error_code", "message"}` raises `ServerError`; a 401 raises `NotAuthorized`.
- 429, 503 and connection errors are retried with exponential backoff and jitter (`Retry-After` honoured); a request
  whose answer was lost is sent again only when that cannot do it twice (`_may_resend`).
- Every create sends an `Idempotency-Key` (docs/compatibility.md#idempotency-key), one per call and the same on each
  retry, so that a retry never creates twice; a 409 with code 31 (the first request still runs) is retried too.
- The `Version` header must equal `expected_version` unless `verify_version` is off
  (docs/compatibility.md#version-header).
"""

from __future__ import annotations

import base64
import json
import random
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from pydantic import TypeAdapter

from layer0_client import models
from layer0_client.errors import (
    ConnectionFailed,
    NotAuthorized,
    ServerError,
    VersionMismatch,
    WaitTimeout,
)

T = TypeVar("T")

IDEMPOTENCY_HEADER = "Idempotency-Key"
RETRIED_STATUSES = frozenset({429, 503})
KEY_IN_PROGRESS = 31  # docs/compatibility.md#errors: the first request with this key still runs
DEFAULT_POLL_SECONDS = 5.0  # how often the original CLI polls a job (docs/compatibility.md#jobs)

# The routes this client reaches, (method, path) -> the method that reaches it; filled by @route.
ROUTES: dict[tuple[str, str], str] = {}


def route(method: str, path: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    def register(function: Callable[..., T]) -> Callable[..., T]:
        ROUTES[(method, path)] = function.__name__
        return function

    return register


@dataclass(frozen=True)
class ServiceChange:
    """What create, scale and update answer: the service, and the id of the rollout job (type 6) they started
    (None from an API without rollouts)."""

    service: models.Service
    rollout_job_id: str | None


def _parse(model: Any, data: Any) -> Any:
    return TypeAdapter(model).validate_python(data)


class Client:
    def __init__(
        self,
        endpoint: str,
        token: str,
        *,
        expected_version: str | None = None,
        verify_ssl: bool = True,
        retries: int = 4,
        backoff_seconds: float = 0.5,
        max_backoff_seconds: float = 8.0,
        timeout_seconds: float = 120.0,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        deadline: float | None = None,
        on_request: Callable[[httpx.Request, httpx.Response], None] | None = None,
    ):
        """`expected_version` None skips the version check. `deadline` (time.monotonic()) bounds every wait and
        every retry: past it, WaitTimeout."""
        self.endpoint = endpoint
        self.expected_version = expected_version
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.poll_seconds = poll_seconds
        self.deadline = deadline
        self.timeout_seconds = timeout_seconds
        self._sleep = sleep
        self._on_request = on_request
        self._http = httpx.Client(
            base_url=endpoint if endpoint.endswith("/") else endpoint + "/",
            headers={"Authorization": f"Basic {token}", "User-Agent": "layer0-cli"},
            verify=verify_ssl,
            timeout=timeout_seconds,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transport -----------------------------------------------------------------------------------------------

    def _check_deadline(self) -> None:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise WaitTimeout("the command's time limit (--timeout) ran out")

    def pause(self, seconds: float) -> None:
        if self.deadline is not None:
            seconds = min(seconds, max(0.0, self.deadline - time.monotonic()))
        self._sleep(seconds)
        self._check_deadline()

    def _timeout(self) -> float:
        """The request's time limit: the client's, or less when the deadline is nearer."""
        if self.deadline is None:
            return self.timeout_seconds
        return max(0.1, min(self.timeout_seconds, self.deadline - time.monotonic()))

    def _backoff(self, attempt: int, response: httpx.Response | None) -> float:
        retry_after = response.headers.get("Retry-After") if response is not None else None
        if retry_after and retry_after.isdigit():
            return min(float(retry_after), self.max_backoff_seconds)
        return random.uniform(0, min(self.max_backoff_seconds, self.backoff_seconds * 2**attempt))

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        idempotent: bool = False,
    ) -> httpx.Response:
        """One API call, retried on 429/503/connection errors; raises on any answer >= 400."""
        headers = {IDEMPOTENCY_HEADER: uuid.uuid4().hex} if idempotent else {}
        content = None if json is None else _dumps(json)
        if content is not None:
            headers["Content-Type"] = "application/json"
        attempt = 0
        while True:
            self._check_deadline()
            response: httpx.Response | None = None
            try:
                response = self._http.request(
                    method, path.lstrip("/"), content=content, params=params, headers=headers, timeout=self._timeout()
                )
                if self._on_request is not None:
                    self._on_request(response.request, response)
            except httpx.TransportError as error:
                if attempt >= self.retries or not self._may_resend(method, idempotent, error):
                    raise ConnectionFailed(self._connection_message(error)) from error
            else:
                self._check_version(response)
                if not self._retried(response) or attempt >= self.retries:
                    return self._checked(response)
            self.pause(self._backoff(attempt, response))
            attempt += 1

    @staticmethod
    def _may_resend(method: str, idempotent: bool, error: httpx.TransportError) -> bool:
        """A request that never reached the API may always be sent again. One whose answer was lost may have been
        done: it is sent again only when doing it twice is doing it once (reads, PUTs, and creates, which carry
        an Idempotency-Key); a lost DELETE or POST without a key is an error, not a second job."""
        if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            return True
        return idempotent or method in ("GET", "PUT")

    def _connection_message(self, error: httpx.TransportError) -> str:
        """The original CLI's words, and its hints."""
        message = f"Unable to connect to API with error: {error}"
        if "CERTIFICATE_VERIFY_FAILED" in str(error):
            message += "\nThe API's TLS certificate was refused: set LAYER0_SKIP_SSL_VERIFY=1 to skip the check."
        elif self.endpoint.rstrip("/") in ("http://localhost:9090", "http://127.0.0.1:9090"):
            message += "\nIs the API running there? Set LAYER0_API_ENDPOINT to your API's endpoint."
        return message

    def _retried(self, response: httpx.Response) -> bool:
        if response.status_code in RETRIED_STATUSES:
            return True
        return response.status_code == 409 and _error_code(response) == KEY_IN_PROGRESS

    def _check_version(self, response: httpx.Response) -> None:
        version = response.headers.get("Version")
        if self.expected_version is not None and version is not None and version != self.expected_version:
            raise VersionMismatch(self.expected_version, version)

    def _checked(self, response: httpx.Response) -> httpx.Response:
        if response.status_code < 400:
            return response
        if response.status_code == 401:
            raise NotAuthorized()
        try:
            body = response.json()
            code, message = int(body["error_code"]), str(body["message"])
        except (ValueError, KeyError, TypeError):
            code, message = 21, f"{response.status_code}: {response.text.strip()}"
        raise ServerError(response.status_code, code, message)

    def _get(self, model: Any, path: str, params: dict[str, str] | None = None) -> Any:
        return _parse(model, self.request("GET", path, params=params).json())

    @staticmethod
    def _job_id(response: httpx.Response) -> str:
        return response.headers["X-JobID"]

    def _service_change(self, response: httpx.Response) -> ServiceChange:
        return ServiceChange(models.Service.model_validate(response.json()), response.headers.get("X-JobID"))

    # --- admin (docs/compatibility.md#admin) ---------------------------------------------------------------------

    @route("GET", "/health")
    def health(self) -> bool:
        return self.request("GET", "health").status_code == 200

    @route("GET", "/admin/version")
    def admin_version(self) -> str:
        return str(self.request("GET", "admin/version").json())

    @route("GET", "/admin/config")
    def admin_config(self) -> models.APIConfig:
        return self._get(models.APIConfig, "admin/config")

    @route("POST", "/admin/sql")
    def admin_sql(self) -> None:
        self.request("POST", "admin/sql", json={"version": "latest"})

    @route("PUT", "/admin/scale/{id}")
    def admin_scale(self, environment_id: str) -> models.ScalerRunInfo:
        return _parse(models.ScalerRunInfo, self.request("PUT", f"admin/scale/{environment_id}", json="").json())

    @route("GET", "/openapi.json")
    def openapi_document(self) -> dict[str, Any]:
        return self.request("GET", "openapi.json").json()

    @route("GET", "/swagger")
    def swagger_ui(self) -> str:
        return self.request("GET", "swagger").text

    # --- tags (docs/compatibility.md#tags) -----------------------------------------------------------------------

    @route("GET", "/tag")
    def list_tags(self, entity_type: str, **filters: str) -> list[models.EntityWithTags]:
        return self._get(list[models.EntityWithTags], "tag", params={"type": entity_type, **filters})

    @route("POST", "/tag")
    def create_tag(self, entity_type: str, entity_id: str, key: str, value: str) -> None:
        tag = {"entity_type": entity_type, "entity_id": entity_id, "key": key, "value": value}
        self.request("POST", "tag", json=tag)

    @route("DELETE", "/tag")
    def delete_tag(self, entity_type: str, entity_id: str, key: str) -> None:
        self.request("DELETE", "tag", json={"entity_type": entity_type, "entity_id": entity_id, "key": key})

    # --- jobs (docs/compatibility.md#jobs) -----------------------------------------------------------------------

    @route("GET", "/job")
    def list_jobs(self) -> list[models.Job]:
        return self._get(list[models.Job], "job")

    @route("GET", "/job/{id}")
    def get_job(self, job_id: str) -> models.Job:
        return self._get(models.Job, f"job/{job_id}")

    @route("DELETE", "/job/{id}")
    def delete_job(self, job_id: str) -> None:
        self.request("DELETE", f"job/{job_id}")

    def wait_for_job(self, job_id: str, on_poll: Callable[[models.Job], None] | None = None) -> models.Job:
        """Poll the job every `poll_seconds` until it is completed or in error; returns it either way."""
        while True:
            job = self.get_job(job_id)
            if on_poll is not None:
                on_poll(job)
            if job.done:
                return job
            self.pause(self.poll_seconds)

    def wait_for_rollout(
        self, service_id: str, job_id: str, on_progress: Callable[[models.Service], None] | None = None
    ) -> tuple[models.Job, models.Service]:
        """Follow a rollout job (type 6) and its service until the job ends; on_progress sees each service read."""
        while True:
            job = self.get_job(job_id)
            service = self.get_service(service_id)
            if on_progress is not None:
                on_progress(service)
            if job.done:
                return job, service
            self.pause(self.poll_seconds)

    # --- environments (docs/compatibility.md#environments) -------------------------------------------------------

    @route("GET", "/environment")
    def list_environments(self) -> list[models.EnvironmentSummary]:
        return self._get(list[models.EnvironmentSummary], "environment")

    @route("POST", "/environment")
    def create_environment(
        self,
        environment_name: str,
        *,
        instance_size: str | None = None,
        min_cluster_count: int | None = None,
        user_data_template: bytes | None = None,
        operating_system: str = "linux",
        ami_id: str | None = None,
        environment_type: str | None = None,
        spot: bool | None = None,
        scaling: str | None = None,
    ) -> models.Environment:
        """Fields left None are not sent: a Fargate environment refuses the EC2 ones."""
        body: dict[str, Any] = {"environment_name": environment_name, "operating_system": operating_system}
        optional = {
            "instance_size": instance_size,
            "min_cluster_count": min_cluster_count,
            "ami_id": ami_id,
            "environment_type": environment_type,
            "spot": spot,
            "scaling": scaling,
        }
        body.update({key: value for key, value in optional.items() if value is not None})
        if user_data_template is not None:
            body["user_data_template"] = _b64(user_data_template)
        response = self.request("POST", "environment", json=body, idempotent=True)
        return models.Environment.model_validate(response.json())

    @route("GET", "/environment/{id}")
    def get_environment(self, environment_id: str) -> models.Environment:
        return self._get(models.Environment, f"environment/{environment_id}")

    @route("PUT", "/environment/{id}")
    def update_environment(self, environment_id: str, min_cluster_count: int) -> models.Environment:
        response = self.request("PUT", f"environment/{environment_id}", json={"min_cluster_count": min_cluster_count})
        return models.Environment.model_validate(response.json())

    @route("DELETE", "/environment/{id}")
    def delete_environment(self, environment_id: str) -> str:
        """Starts job type 1; returns its id."""
        return self._job_id(self.request("DELETE", f"environment/{environment_id}"))

    @route("POST", "/environment/{id}/link")
    def link_environments(self, source_id: str, destination_id: str) -> None:
        self.request("POST", f"environment/{source_id}/link", json={"environment_id": destination_id})

    @route("DELETE", "/environment/{id}/link/{dest_id}")
    def unlink_environments(self, source_id: str, destination_id: str) -> None:
        self.request("DELETE", f"environment/{source_id}/link/{destination_id}")

    # --- deploys (docs/compatibility.md#deploys) -----------------------------------------------------------------

    @route("GET", "/deploy")
    def list_deploys(self) -> list[models.DeploySummary]:
        return self._get(list[models.DeploySummary], "deploy")

    @route("POST", "/deploy")
    def create_deploy(self, deploy_name: str, dockerrun: bytes) -> models.Deploy:
        body = {"deploy_name": deploy_name, "dockerrun": _b64(dockerrun)}
        return models.Deploy.model_validate(self.request("POST", "deploy", json=body, idempotent=True).json())

    @route("GET", "/deploy/{id}")
    def get_deploy(self, deploy_id: str) -> models.Deploy:
        return self._get(models.Deploy, f"deploy/{deploy_id}")

    @route("DELETE", "/deploy/{id}")
    def delete_deploy(self, deploy_id: str) -> None:
        self.request("DELETE", f"deploy/{deploy_id}")

    # --- load balancers (docs/compatibility.md#load-balancers) ---------------------------------------------------

    @route("GET", "/loadbalancer")
    def list_load_balancers(self) -> list[models.LoadBalancerSummary]:
        return self._get(list[models.LoadBalancerSummary], "loadbalancer")

    @route("POST", "/loadbalancer")
    def create_load_balancer(
        self,
        load_balancer_name: str,
        environment_id: str,
        *,
        is_public: bool = True,
        ports: Iterable[models.Port] = (),
        health_check: models.HealthCheck | None = None,
        idle_timeout: int = 60,
        cross_zone: bool = True,
        load_balancer_type: str | None = None,
    ) -> models.LoadBalancer:
        """Sends every field, with the original CLI's defaults
        (docs/compatibility.md#how-the-cli-builds-its-requests)."""
        body: dict[str, Any] = {
            "load_balancer_name": load_balancer_name,
            "environment_id": environment_id,
            "is_public": is_public,
            "ports": [port.body() for port in ports]
            or [models.Port(host_port=80, container_port=80, protocol="tcp").body()],
            "health_check": (health_check or DEFAULT_HEALTH_CHECK).body(),
            "idle_timeout": idle_timeout,
            "cross_zone": cross_zone,
        }
        if load_balancer_type is not None:
            body["load_balancer_type"] = load_balancer_type
        response = self.request("POST", "loadbalancer", json=body, idempotent=True)
        return models.LoadBalancer.model_validate(response.json())

    @route("GET", "/loadbalancer/{id}")
    def get_load_balancer(self, load_balancer_id: str) -> models.LoadBalancer:
        return self._get(models.LoadBalancer, f"loadbalancer/{load_balancer_id}")

    @route("DELETE", "/loadbalancer/{id}")
    def delete_load_balancer(self, load_balancer_id: str) -> str:
        """Starts job type 3; returns its id."""
        return self._job_id(self.request("DELETE", f"loadbalancer/{load_balancer_id}"))

    @route("PUT", "/loadbalancer/{id}/ports")
    def update_load_balancer_ports(self, load_balancer_id: str, ports: Iterable[models.Port]) -> models.LoadBalancer:
        body = {"ports": [port.body() for port in ports]}
        return self._load_balancer(self.request("PUT", f"loadbalancer/{load_balancer_id}/ports", json=body))

    @route("PUT", "/loadbalancer/{id}/healthcheck")
    def update_load_balancer_health_check(
        self, load_balancer_id: str, health_check: models.HealthCheck
    ) -> models.LoadBalancer:
        body = {"health_check": health_check.body()}
        return self._load_balancer(self.request("PUT", f"loadbalancer/{load_balancer_id}/healthcheck", json=body))

    @route("PUT", "/loadbalancer/{id}/idletimeout")
    def update_load_balancer_idle_timeout(self, load_balancer_id: str, seconds: int) -> models.LoadBalancer:
        # `health_check` (sic), as the original CLI sends it (docs/compatibility.md#json-fields)
        body = {"health_check": seconds}
        return self._load_balancer(self.request("PUT", f"loadbalancer/{load_balancer_id}/idletimeout", json=body))

    @route("PUT", "/loadbalancer/{id}/crosszone")
    def update_load_balancer_cross_zone(self, load_balancer_id: str, cross_zone: bool) -> models.LoadBalancer:
        body = {"cross_zone": cross_zone}
        return self._load_balancer(self.request("PUT", f"loadbalancer/{load_balancer_id}/crosszone", json=body))

    @staticmethod
    def _load_balancer(response: httpx.Response) -> models.LoadBalancer:
        return models.LoadBalancer.model_validate(response.json())

    # --- services (docs/compatibility.md#services) ---------------------------------------------------------------

    @route("GET", "/service")
    def list_services(self) -> list[models.ServiceSummary]:
        return self._get(list[models.ServiceSummary], "service")

    @route("POST", "/service")
    def create_service(
        self, service_name: str, environment_id: str, deploy_id: str, load_balancer_id: str = ""
    ) -> ServiceChange:
        body = {
            "service_name": service_name,
            "environment_id": environment_id,
            "deploy_id": deploy_id,
            "load_balancer_id": load_balancer_id,
        }
        return self._service_change(self.request("POST", "service", json=body, idempotent=True))

    @route("GET", "/service/{id}")
    def get_service(self, service_id: str) -> models.Service:
        return self._get(models.Service, f"service/{service_id}")

    @route("DELETE", "/service/{id}")
    def delete_service(self, service_id: str) -> str:
        """Starts job type 2; returns its id."""
        return self._job_id(self.request("DELETE", f"service/{service_id}"))

    @route("PUT", "/service/{id}/scale")
    def scale_service(self, service_id: str, desired_count: int) -> ServiceChange:
        body = {"desired_count": desired_count}
        return self._service_change(self.request("PUT", f"service/{service_id}/scale", json=body, idempotent=True))

    @route("PUT", "/service/{id}/deploy")
    def update_service(self, service_id: str, deploy_id: str) -> ServiceChange:
        body = {"deploy_id": deploy_id}
        return self._service_change(self.request("PUT", f"service/{service_id}/deploy", json=body, idempotent=True))

    @route("GET", "/service/{id}/logs")
    def get_service_logs(
        self, service_id: str, tail: int | None = None, start: str | None = None, end: str | None = None
    ) -> list[models.LogFile]:
        return self._get(list[models.LogFile], f"service/{service_id}/logs", _log_query(tail, start, end))

    @route("PUT", "/service/{id}/autoscaling")
    def set_service_autoscaling(self, service_id: str, autoscaling: models.Autoscaling) -> models.Service:
        """A scalable target, and one target-tracking policy per target given."""
        body = autoscaling.model_dump(mode="json")
        return self._get_service(self.request("PUT", f"service/{service_id}/autoscaling", json=body))

    @route("DELETE", "/service/{id}/autoscaling")
    def clear_service_autoscaling(self, service_id: str) -> models.Service:
        return self._get_service(self.request("DELETE", f"service/{service_id}/autoscaling"))

    @staticmethod
    def _get_service(response: httpx.Response) -> models.Service:
        return models.Service.model_validate(response.json())

    # --- tasks (docs/compatibility.md#tasks) ---------------------------------------------------------------------

    @route("GET", "/task")
    def list_tasks(self) -> list[models.TaskSummary]:
        return self._get(list[models.TaskSummary], "task")

    @route("POST", "/task")
    def create_task(
        self,
        task_name: str,
        environment_id: str,
        deploy_id: str,
        container_overrides: dict[str, dict[str, str]] | None = None,
    ) -> str:
        """Starts job type 5 (one task); returns its id. `container_overrides`: container -> {VAR: value}."""
        overrides = [
            {"container_name": name, "environment_overrides": variables}
            for name, variables in (container_overrides or {}).items()
        ]
        body = {
            "task_name": task_name,
            "environment_id": environment_id,
            "deploy_id": deploy_id,
            "container_overrides": overrides,
        }
        return self._job_id(self.request("POST", "task", json=body, idempotent=True))

    @route("GET", "/task/{id}")
    def get_task(self, task_id: str) -> models.Task:
        return self._get(models.Task, f"task/{task_id}")

    @route("DELETE", "/task/{id}")
    def delete_task(self, task_id: str) -> None:
        self.request("DELETE", f"task/{task_id}")

    @route("GET", "/task/{id}/logs")
    def get_task_logs(
        self, task_id: str, tail: int | None = None, start: str | None = None, end: str | None = None
    ) -> list[models.LogFile]:
        """A task's container logs; for a job's id, the job's history (docs/compatibility.md#jobs)."""
        return self._get(list[models.LogFile], f"task/{task_id}/logs", _log_query(tail, start, end))

    # --- secrets --------------------------------------------------------------------------------------------------

    @route("POST", "/secret")
    def set_secret(self, secret_name: str, value: str) -> models.Secret:
        """Creates or updates the secret; the value goes only in this request's body."""
        body = {"secret_name": secret_name, "value": value}
        # No Idempotency-Key: setting a secret twice is the same as once, and the key's record would hold a hash of
        # the body, value included.
        return models.Secret.model_validate(self.request("POST", "secret", json=body).json())

    @route("GET", "/secret")
    def list_secrets(self) -> list[models.Secret]:
        return self._get(list[models.Secret], "secret")

    @route("DELETE", "/secret/{name}")
    def delete_secret(self, secret_name: str) -> None:
        self.request("DELETE", f"secret/{secret_name}")


DEFAULT_HEALTH_CHECK = models.HealthCheck(
    target="TCP:80", interval=30, timeout=5, healthy_threshold=2, unhealthy_threshold=2
)


def _log_query(tail: int | None, start: str | None, end: str | None) -> dict[str, str]:
    query = {"tail": str(tail) if tail else None, "start": start, "end": end}
    return {key: value for key, value in query.items() if value}


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


def _error_code(response: httpx.Response) -> int | None:
    try:
        return int(response.json()["error_code"])
    except (ValueError, KeyError, TypeError):
        return None
