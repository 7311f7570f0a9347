"""Job workflows (DESIGN §4): one Standard state machine per Layer0 job type.

`infra.workflows.asl` builds the ASL as plain data and imports nothing from aws_cdk, so local mode and the
tests create exactly what CDK deploys; `infra.workflows.construct` wraps it in CDK. This file imports nothing.
"""
