"""CDK constructs of Layer0, serverless. `infra.contract` must stay importable without aws_cdk, so this file imports nothing."""
