#!/usr/bin/env python3
"""CDK entry point: `python app.py` synthesizes (no npm CLI needed); `npx cdk deploy` deploys.

Context (`-c key=value` or cdk.json): prefix, vpc_id, api_version, aws_rate, aws_burst, api_concurrency,
container_policy (see infra/config.py). The output folder is $CDK_OUTDIR (set by the CDK CLI) or ./cdk.out.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
# The repository, and the Lambda asset, whose plain-data contract and workflows infra/ builds from.
ROOT = Path(__file__).resolve().parent
sys.path[:0] = [str(ROOT), str(ROOT / "functions")]

import aws_cdk as cdk  # noqa: E402

from infra.stack import build  # noqa: E402


def main() -> None:
    app = cdk.App(outdir=os.environ.get("CDK_OUTDIR") or "cdk.out")
    build(app)
    app.synth()


if __name__ == "__main__":
    main()
