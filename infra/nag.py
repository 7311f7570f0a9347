"""cdk-nag acknowledgements: each wildcard resource of a policy acknowledged with its own reason."""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_iam as iam


def nag_text(value) -> str:
    """A resolved ARN as cdk-nag writes it in finding ids: pseudo parameters as <AWS::Region>, refs as <Id.Arn>."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return f"<{value['Ref']}>"
    if "Fn::GetAtt" in value:
        return f"<{'.'.join(value['Fn::GetAtt'])}>"
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(nag_text(part) for part in parts)
    raise ValueError(f"cannot render {value!r}")


def acknowledge_wildcards(stack: Stack, policy: iam.Policy, reason_for: Callable[[str], str]) -> None:
    """cdk-nag IAM5 flags each wildcard resource; acknowledge each one with `reason_for(its ARN as nag writes it)`."""
    document = stack.resolve(policy.document.to_json())
    for statement in document["Statement"]:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for resource in resources:
            text = nag_text(resource)
            if "*" in text:
                Validations.of(policy).acknowledge(
                    Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{text}]", reason=reason_for(text))
                )
