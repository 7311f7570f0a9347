"""What the client raises. Every error the API answers with becomes a ServerError carrying its `error_code` and
`message` (docs/compatibility.md#errors)."""

from __future__ import annotations


class Layer0ClientError(Exception):
    """Anything the client could not do."""


class ServerError(Layer0ClientError):
    """An answer `{"error_code": N, "message": "..."}`; printed as the Go CLI did: `ServerError (code=N) message`."""

    def __init__(self, status: int, error_code: int, message: str):
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message

    def __str__(self) -> str:
        return f"ServerError (code={self.error_code}) {self.message}"


class NotAuthorized(Layer0ClientError):
    """401: the token is wrong or missing (the API answers in plain text, without an error code)."""

    def __str__(self) -> str:
        return "Invalid Auth Token. Have you tried running `l0-setup endpoint <prefix>`?"


class ConnectionFailed(Layer0ClientError):
    """The API could not be reached, after the retries."""


class VersionMismatch(Layer0ClientError):
    def __init__(self, cli_version: str, api_version: str):
        super().__init__(cli_version, api_version)
        self.cli_version = cli_version
        self.api_version = api_version

    def __str__(self) -> str:
        return (
            f"API and CLI version mismatch (CLI: '{self.cli_version}', API: '{self.api_version}'). "
            'To disable this check, set LAYER0_SKIP_VERSION_VERIFY="1"'
        )


class WaitTimeout(Layer0ClientError):
    """A wait (or the whole command, under `--timeout`) ran out of time."""
