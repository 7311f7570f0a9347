"""Routes `/deploys` (issue 4). Being built."""

from aws_lambda_powertools.event_handler.api_gateway import Router

router = Router()
