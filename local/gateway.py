"""A local API Gateway: HTTP in, REST v1 proxy events out, as the deployed REST API does it.

For each request it finds the route in `functions/layer0/contract.py` (an unknown one gets the gateway's own
404), runs the REQUEST authorizer on routes that need the token, then the API handler, and writes
the handler's answer back. Each function is imported once and serves one request at a time, like a
warm Lambda container.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from layer0 import contract

ACCOUNT = "123456789012"
REGION = "us-west-2"
API_ID = "local"
STAGE = "api"
# API Gateway's own cap on a request's payload: it answers 413 beyond it, before the API function (which
# refuses bodies over 1 MB itself: functions/handlers/api/edge.py).
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
# The principal handlers/authorizer.py names for the token's holder.
AUTHORIZED_PRINCIPAL = "layer0"


class LambdaContext:
    """What a Python Lambda handler reads from its context."""

    def __init__(self, function_name: str = "l0-local-function", memory_mb: int = 512, timeout_ms: int = 30_000):
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self._timeout_ms = timeout_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._timeout_ms


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def _compile(path: str) -> re.Pattern:
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
    return re.compile(f"^{pattern}$")


class Gateway:
    def __init__(
        self,
        api_handler: Callable[[dict, object], dict],
        authorizer_handler: Callable[[dict, object], dict],
        api_version: str,
        routes: tuple[contract.Route, ...] = contract.ROUTES,
    ):
        self._api = api_handler
        self._authorizer = authorizer_handler
        self._api_version = api_version
        self._routes = [(route, _compile(route.path)) for route in routes]
        # One warm container per function: Powertools keeps the current event on the app.
        self._api_lock = threading.Lock()
        self._authorizer_lock = threading.Lock()

    def _match(self, method: str, path: str) -> tuple[contract.Route | None, dict[str, str], bool]:
        """(route, path parameters, whether any route has this path)."""
        known = False
        for route, pattern in self._routes:
            found = pattern.match(path)
            if found:
                known = True
                if route.method == method:
                    return route, found.groupdict(), True
        return None, {}, known

    def _gateway_response(self, kind: str, error: str = "", *, method: str, path: str) -> Answer:
        response = contract.GATEWAY_RESPONSES[kind]
        body = (
            response.body.replace("$context.httpMethod", method)
            .replace("$context.path", path)
            .replace("$context.error.messageString", json.dumps(error))
        )
        out = [("Content-Type", response.content_type), ("Version", self._api_version), *response.headers]
        out.append(("Access-Control-Allow-Origin", contract.CORS_ALLOW_ORIGIN))
        return Answer(response.status or 500, out, body.encode())

    def refuse_length(self, content_length: str | None, transfer_encoding: str | None) -> Answer | None:
        """The gateway's answer when the body cannot be read as API Gateway would: chunked or without a valid
        length (411, 400) or over API Gateway's payload limit (413). None when the body may be read."""
        if transfer_encoding:
            return self._status_response(411, "A request body needs a Content-Length")
        if content_length is None:
            return None
        if not content_length.isdigit():
            return self._status_response(400, f"Invalid Content-Length: {content_length!r}")
        if int(content_length) > MAX_PAYLOAD_BYTES:
            return self._status_response(413, "Request Too Long")
        return None

    def _status_response(self, status: int, error: str) -> Answer:
        """API Gateway's DEFAULT_4XX answer, with the status API Gateway chose."""
        answer = self._gateway_response("DEFAULT_4XX", error, method="", path="")
        answer.status = status
        return answer

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Answer:
        url = urlsplit(raw_path)
        # API Gateway treats `/environment/` as `/environment`.
        path = url.path.rstrip("/") or "/"
        query = parse_qs(url.query, keep_blank_values=True)
        route, params, known = self._match(method, path)
        preflight = method == "OPTIONS" and known
        if route is None and not preflight:
            return self._gateway_response("MISSING_AUTHENTICATION_TOKEN", method=method, path=path)

        resource = route.path if route else path
        event = proxy_event(method, path, resource, headers, query, params, body)
        if route is not None and route.auth:
            authorized = self._authorize(event)
            if isinstance(authorized, tuple):
                return self._gateway_response(*authorized, method=method, path=path)
            event["requestContext"]["authorizer"] = authorized
        with self._api_lock:
            result = self._api(event, LambdaContext("l0-local-api"))
        return _answer(result)

    def _authorize(self, proxy_event: dict) -> dict | tuple[str, str]:
        """The authorizer's context for the API function when the request may pass (what API Gateway puts in
        `requestContext.authorizer`: the principal and the policy's `context`), else (gateway response type, error
        message)."""
        request_context = {key: value for key, value in proxy_event["requestContext"].items() if key != "authorizer"}
        event = {
            "type": "REQUEST",
            "methodArn": (
                f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{STAGE}/"
                f"{proxy_event['httpMethod']}{proxy_event['resource']}"
            ),
            **{key: proxy_event[key] for key in ("resource", "path", "httpMethod", "headers", "multiValueHeaders")},
            **{key: proxy_event[key] for key in ("queryStringParameters", "pathParameters")},
            "requestContext": request_context,
        }
        try:
            with self._authorizer_lock:
                policy = self._authorizer(event, LambdaContext("l0-local-authorizer"))
        except Exception as error:  # API Gateway maps the authorizer's "Unauthorized" to 401
            if str(error) == "Unauthorized":
                return "UNAUTHORIZED", "Unauthorized"
            return "DEFAULT_5XX", f"Authorizer error: {type(error).__name__}"
        statements = policy.get("policyDocument", {}).get("Statement", [])
        if not any(s.get("Effect") == "Allow" for s in statements):
            return "ACCESS_DENIED", "Access denied"
        return {"principalId": policy.get("principalId", ""), **policy.get("context", {})}


def proxy_event(
    method: str,
    path: str,
    resource: str | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, list[str]] | None = None,
    params: dict[str, str] | None = None,
    body: bytes = b"",
    principal_id: str | None = AUTHORIZED_PRINCIPAL,
) -> dict:
    """The REST v1 proxy event API Gateway sends the API function for this request.

    On a route behind the token, API Gateway calls the function only once the authorizer allowed the request, and
    passes the authorizer's principal in `requestContext.authorizer`; `principal_id=None` leaves it out.
    """
    resource = resource or path
    headers = headers or {"Accept": "application/json"}
    query = query or {}
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    request_context: dict = {
        "accountId": ACCOUNT,
        "apiId": API_ID,
        "stage": STAGE,
        "resourcePath": resource,
        "httpMethod": method,
        "path": path,
        "requestId": str(uuid.uuid4()),
        "identity": {"sourceIp": "127.0.0.1"},
    }
    if principal_id is not None and any(
        route.auth and (route.method, route.path) == (method, resource) for route in contract.ROUTES
    ):
        request_context["authorizer"] = {"principalId": principal_id}
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": dict(headers),
        "multiValueHeaders": {key: [value] for key, value in headers.items()},
        "queryStringParameters": {key: values[-1] for key, values in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": params or None,
        "stageVariables": None,
        "requestContext": request_context,
        "body": text if body else None,
        "isBase64Encoded": encoded,
    }


def _answer(result: dict) -> Answer:
    headers = [(key, value) for key, value in (result.get("headers") or {}).items()]
    for key, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((key, value) for value in values)
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    return Answer(int(result.get("statusCode", 200)), headers, raw)


def http_server(gateway: Gateway, host: str, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # The headers and the body go out in two writes; with Nagle on, the body waited ~40 ms for the
        # client's delayed ACK on every request.
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            refused = gateway.refuse_length(self.headers.get("Content-Length"), self.headers.get("Transfer-Encoding"))
            if refused is not None:
                # The body stays unread, so this connection cannot carry another request.
                answer = refused
                answer.headers.append(("Connection", "close"))
            else:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                try:
                    answer = gateway.handle(self.command, self.path, dict(self.headers.items()), body)
                except Exception as error:  # the gateway's own 5xx, never a stack trace to the client
                    payload = json.dumps({"error_code": 21, "message": f"Local gateway error: {error}"})
                    answer = Answer(502, [("Content-Type", "application/json")], payload.encode())
            self.send_response(answer.status)
            for key, value in answer.headers:
                if key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(answer.body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _serve

        def log_message(self, fmt: str, *args) -> None:  # one line per request, like the original
            print(f"request {self.command} {self.path} {args[1] if len(args) > 1 else ''}", flush=True)

    server = _Server((host, port), Handler)
    server.daemon_threads = True
    return server


class _Server(ThreadingHTTPServer):
    # socketserver listens with a backlog of 5: a burst of parallel clients (the CLI's, or the concurrency
    # tests') on a busy machine got "connection reset" before a thread could accept them.
    request_queue_size = 128
