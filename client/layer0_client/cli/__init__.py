"""The `l0` command (README.md#using-the-cli): the original Go CLI's commands, flags and outputs, and more."""

from layer0_client.cli.app import app, main

__all__ = ["app", "main"]
