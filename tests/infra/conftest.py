"""Synthesize the CDK app once per session (and the imported-VPC variant once, on demand).

A synth takes several seconds (jsii, bundling, cdk-nag), so every infra test shares these.
`app.synth()` raises when cdk-nag reports an unacknowledged finding, so a finding fails every test.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402

from infra.stack import Layer0Stack, build  # noqa: E402

ACCOUNT = "123456789012"
REGION = "us-west-2"
IMPORTED_VPC_ID = "vpc-12345678"
PUBLIC_SUBNETS = ("subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2")
PRIVATE_SUBNETS = ("subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2")

# Context for the imported-VPC variant: non-default values, to see that each one reaches the template.
IMPORTED_CONTEXT = {
    "prefix": "team2",
    "vpc_id": IMPORTED_VPC_ID,
    "api_version": "v9.9.9-test",
    # Strings, as `-c key=value` passes them.
    "api_concurrency": "4",
    "aws_rate": "2.5",
    "aws_burst": "7",
    "container_policy": "strict",
    "imds_hop_limit": "2",
    "task_retention_hours": "6",
    "events_concurrency": "3",
}


def _subnets(ids: tuple[str, ...], cidr_base: int) -> list[dict[str, str]]:
    return [
        {
            "subnetId": subnet_id,
            "cidr": f"10.0.{cidr_base + i}.0/24",
            "availabilityZone": f"{REGION}{'ab'[i]}",
            "routeTableId": f"rtb-0{cidr_base + i:016x}",
        }
        for i, subnet_id in enumerate(ids)
    ]


# What `Vpc.from_lookup` would get back from AWS for a VPC whose subnets carry Tier=Public|Private.
# The key is the one CDK asks for (it is listed under "missing" in manifest.json when absent).
VPC_LOOKUP_CONTEXT = {
    f"vpc-provider:account={ACCOUNT}:filter.vpc-id={IMPORTED_VPC_ID}:region={REGION}"
    ":returnAsymmetricSubnets=true:subnetGroupNameTag=Tier": {
        "vpcId": IMPORTED_VPC_ID,
        "vpcCidrBlock": "10.0.0.0/16",
        "ownerAccountId": ACCOUNT,
        "availabilityZones": [],
        "subnetGroups": [
            {"name": "Public", "type": "Public", "subnets": _subnets(PUBLIC_SUBNETS, 0)},
            {"name": "Private", "type": "Private", "subnets": _subnets(PRIVATE_SUBNETS, 10)},
        ],
    }
}


@dataclass
class Synth:
    stack: Layer0Stack
    outdir: Path
    template_json: dict[str, Any]
    template: Template
    manifest: dict[str, Any]

    @property
    def template_path(self) -> Path:
        return self.outdir / f"{self.stack.stack_name}.template.json"

    @property
    def validation_report(self) -> dict[str, Any]:
        return json.loads((self.outdir / "validation-report.json").read_text())

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template_json["Resources"].items() if v["Type"] == resource_type}

    def layer0_functions(self) -> dict[str, dict[str, Any]]:
        """The functions of Layer0's asset: every function but CDK's deploy-trigger provider (infra/read_model.py)."""
        return {
            k: v
            for k, v in self.resources("AWS::Lambda::Function").items()
            if v["Properties"].get("Handler", "").startswith("handlers.")
        }

    def asset_dir(self) -> Path:
        assets = json.loads((self.outdir / f"{self.stack.stack_name}.assets.json").read_text())
        zipped = [
            f["source"]["path"]
            for f in assets["files"].values()
            if f["source"].get("packaging") == "zip" and (self.outdir / f["source"]["path"] / "handlers").is_dir()
        ]
        # (CDK's deploy-trigger provider, infra/read_model.py, has an asset of its own.)
        assert len(zipped) == 1, f"expected one Lambda asset (shared by every function), got {zipped}"
        return self.outdir / zipped[0]


def synthesize(outdir: Path, context: dict[str, Any] | None = None, env: cdk.Environment | None = None) -> Synth:
    app = cdk.App(outdir=str(outdir), context=context or {})
    stack = build(app, env=env)
    app.synth()
    template_json = json.loads((outdir / f"{stack.stack_name}.template.json").read_text())
    return Synth(
        stack=stack,
        outdir=outdir,
        template_json=template_json,
        template=Template.from_json(template_json),
        manifest=json.loads((outdir / "manifest.json").read_text()),
    )


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The default app, as `python app.py` builds it (no context)."""
    return synthesize(tmp_path_factory.mktemp("cdk-default"))


@pytest.fixture(scope="session")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """`-c vpc_id=...` with other non-default context, against a fake lookup answer."""
    return synthesize(
        tmp_path_factory.mktemp("cdk-imported"),
        context={**IMPORTED_CONTEXT, **VPC_LOOKUP_CONTEXT},
        env=cdk.Environment(account=ACCOUNT, region=REGION),
    )
