"""Logging shared by the handlers and the domain."""

from __future__ import annotations

import logging

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

DOMAIN_LOGGER = "layer0"


def domain_logs_through(logger: Logger) -> None:
    """Make the domain's loggers (`logging.getLogger(__name__)` in layer0.*) write through `logger`'s handler, so
    their lines carry the same keys: the correlation id, and a job step's job id and step name."""
    logging.getLogger(DOMAIN_LOGGER)  # registered, so that Powertools finds it
    copy_config_to_registered_loggers(source_logger=logger, include={DOMAIN_LOGGER})
