"""The `l0` command tree, on Click, with Rich for spinners and live progress (docs/compatibility.md#the-python-cli).

Every command, argument and flag of the original Go CLI (docs/compatibility.md#how-the-cli-builds-its-requests),
with its outputs, exit codes and `ServerError (code=N) message` errors; long flags also take the Go spelling with
one dash (`-wait`). Beyond it: application load balancers, secrets, service autoscaling, Fargate environments,
following logs and rollouts, and shell completion of ids and names from the API (Click's: `_L0_COMPLETE=bash_source
l0`, zsh_source or fish_source).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click

from layer0_client import API_VERSION, __version__
from layer0_client.cli import commands, state
from layer0_client.cli.output import FORMATS, Printer
from layer0_client.errors import Layer0ClientError, WaitTimeout
from layer0_client.resolve import UsageError

_output = "text"
_timeout_text = "15m"


class L0Group(click.Group):
    """Turns every failure into the original CLI's: exit status 1, `Incorrect Usage: ...` and the command's help for
    usage errors, the error's text (or `{"Code": 1, "Message": ...}` under -o json) for the rest."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        global _output
        _output = "text"
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            code = result if isinstance(result, int) else 0
        except click.exceptions.NoArgsIsHelpError as error:
            # `l0` or `l0 environment` alone: the help, as the Go CLI printed it, and success.
            click.echo(error.ctx.get_help() if error.ctx is not None else error.format_message())
            code = 0
        except click.UsageError as error:
            sys.stderr.write(f"Incorrect Usage: {error.format_message()}\n")
            if error.ctx is not None:
                sys.stderr.write("\n" + error.ctx.get_help() + "\n")
            code = 1
        except UsageError as error:
            sys.stderr.write(f"Incorrect Usage: {error}\n")
            code = 1
        except click.ClickException as error:
            error.show()
            code = 1
        except (click.Abort, KeyboardInterrupt):
            sys.stderr.write("Aborted!\n")
            code = 130
        except WaitTimeout:
            Printer(_output).fatal(f"Timeout after {_timeout_text}")
            code = 1
        except Layer0ClientError as error:
            Printer(_output).fatal(str(error))
            code = 1
        if standalone_mode:
            sys.exit(code)
        return code


def _version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"l0 version {API_VERSION} (layer0-cli {__version__})")
        ctx.exit()


@click.group(name="l0", cls=L0Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-o", "--output", default="text", show_default=True, help="Output format: text or json")
@click.option("-t", "--timeout", default="15m", show_default=True, help="Time limit of the command, waits included")
@click.option("-d", "--debug", is_flag=True, help="Print each HTTP request and answer on stderr")
@click.option("--profile", help="A profile of ~/.config/layer0/config.toml (takes precedence over LAYER0_*)")
@click.option("-v", "--version", is_flag=True, expose_value=False, is_eager=True, callback=_version)
@click.pass_context
def app(ctx: click.Context, output: str, timeout: str, debug: bool, profile: str | None) -> None:
    """Layer0's command line: deploy Docker containers onto ECS through the Layer0 API.

    Settings: LAYER0_API_ENDPOINT, LAYER0_AUTH_TOKEN, LAYER0_SKIP_VERSION_VERIFY, LAYER0_SKIP_SSL_VERIFY, or
    --profile. Shell completion: eval "$(_L0_COMPLETE=bash_source l0)" (zsh_source, fish_source).
    """
    global _output, _timeout_text
    if output not in FORMATS:
        raise click.UsageError("Unrecognized output format", ctx)
    _output, _timeout_text = output, timeout
    seconds = state.parse_duration(timeout)
    ctx.obj = state.State(output=output, timeout_text=timeout, timeout_seconds=seconds, debug=debug, profile=profile)
    ctx.call_on_close(ctx.obj.close)


commands.register(app)


@app.command("help")
@click.argument("names", nargs=-1, metavar="[COMMAND [SUBCOMMAND]]")
@click.pass_context
def help_command(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Shows the commands, or one command's help."""
    context = ctx.find_root()
    command: click.Command = context.command
    for name in names:
        found = command.get_command(context, name) if isinstance(command, click.Group) else None
        if found is None:
            raise click.UsageError(f"No help topic for '{name}'")
        command = found
        context = click.Context(command, info_name=name, parent=context)
    click.echo(command.get_help(context))


def main(argv: Sequence[str] | None = None) -> Any:
    """The console script `l0`."""
    return app.main(args=argv, prog_name="l0")
