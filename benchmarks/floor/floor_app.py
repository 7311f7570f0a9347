"""The floor of `python -m benchmarks.cold_start`: the least an API function on Layer0's stack can cost cold.

One route on Powertools' REST resolver with request validation on (as the API function has it), answering a list of
one `defer_build` pydantic model from one DynamoDB Query through `boto3.client`, with Powertools' Logger, and its
init kept away from the garbage collector as functions/handlers/cold_start.py keeps the API function's. It imports
nothing of Layer0's: the API function's ratio above this one's is what Layer0's own code costs.
"""

import gc
import os

gc.disable()

import boto3  # noqa: E402 - the init runs with the collector paused, as the API function's
from aws_lambda_powertools import Logger  # noqa: E402
from aws_lambda_powertools.event_handler import APIGatewayRestResolver  # noqa: E402
from pydantic import BaseModel, ConfigDict  # noqa: E402


class Environment(BaseModel):
    model_config = ConfigDict(defer_build=True)

    environment_id: str


logger = Logger(service="layer0-floor")
app = APIGatewayRestResolver(enable_validation=True)


@app.get("/environment")
def list_environments() -> list[Environment]:
    answer = boto3.client("dynamodb").query(
        TableName=os.environ["LAYER0_AWS_DYNAMO_TAG_TABLE"],
        KeyConditionExpression="EntityType = :type",
        ExpressionAttributeValues={":type": {"S": "environment"}},
    )
    return [Environment(environment_id=item["EntityID"]["S"]) for item in answer["Items"]]


gc.freeze()
gc.enable()


@logger.inject_lambda_context
def handler(event: dict, context) -> dict:
    return app.resolve(event, context)
