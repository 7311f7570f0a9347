"""The Layer0 client library and the `l0` CLI (README.md#using-the-cli).

The client speaks only HTTP to a Layer0 API: it never imports the API's own code.
"""

from layer0_client.client import Client, ServiceChange
from layer0_client.errors import (
    ConnectionFailed,
    Layer0ClientError,
    NotAuthorized,
    ServerError,
    VersionMismatch,
    WaitTimeout,
)

# The API version this CLI is made for: the `Version` header of a Layer0 API deployed with the default
# `api_version` (docs/compatibility.md#version-header). LAYER0_SKIP_VERSION_VERIFY=1 accepts any other.
API_VERSION = "v0.10.9-serverless"
__version__ = "0.10.9"

__all__ = [
    "API_VERSION",
    "Client",
    "ConnectionFailed",
    "Layer0ClientError",
    "NotAuthorized",
    "ServerError",
    "ServiceChange",
    "VersionMismatch",
    "WaitTimeout",
    "__version__",
]
