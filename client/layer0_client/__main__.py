"""`python -m layer0_client`: the `l0` command."""

from layer0_client.cli import main

main()
