"""Layer0 ids (docs/compatibility.md#ids): 12-character hashed ids and the `l0-<prefix>-` AWS names."""

from __future__ import annotations

import re
import secrets

from layer0 import settings

MAX_ID_LENGTH = 12
MIN_ID_HASH_LENGTH = 5
_NOT_ALPHANUMERIC = re.compile(r"[^A-Za-z0-9]")


def _hash_hex() -> str:
    # The original hashed the current time (docs/compatibility.md#ids), unique only within one process: two
    # containers, two restored from one SnapStart snapshot above all, could make the same id at the same moment.
    # Random hex characters look the same and do not depend on the clock.
    return secrets.token_hex(MAX_ID_LENGTH // 2)


def hashed(name: str) -> str:
    """Up to 7 alphanumerics of `name`, then hex hash characters: always 12 characters."""
    kept = _NOT_ALPHANUMERIC.sub("", name)[: MAX_ID_LENGTH - MIN_ID_HASH_LENGTH]
    return kept + _hash_hex()[: MAX_ID_LENGTH - len(kept)]


def job_id() -> str:
    """Job ids are 12 pure hex characters."""
    return hashed("")


def aws_name(layer0_id: str) -> str:
    """`l0-<prefix>-<id>`: the AWS name of a Layer0 entity."""
    return settings.get().aws_name_prefix + layer0_id


def layer0_id(aws_name_: str) -> str:
    """Strip `l0-<prefix>-` from an AWS name."""
    prefix = settings.get().aws_name_prefix
    return aws_name_[len(prefix) :] if aws_name_.startswith(prefix) else aws_name_


def task_definition(deploy_id: str) -> str:
    """Deploy id `name.rev` -> task definition `l0-<prefix>-name:rev` (docs/compatibility.md#ids; a missing revision
    reads as 1)."""
    name, _, revision = deploy_id.partition(".")
    return f"{aws_name(name)}:{revision or '1'}"


# A deploy's Fargate variant (docs/compatibility.md#fargate-environments): the family
# `l0-<prefix>-<name>--fargate-<revision>-<digest>`, where the digest is that of the variant's parameters.
_FARGATE_VARIANT = re.compile(r"^(?P<family>.+)--fargate-(?P<revision>[0-9]+)-(?P<digest>[0-9a-f]{8})$")


def fargate_family(deploy_id_: str, digest: str) -> str:
    """The family of deploy `name.rev`'s Fargate variant with these parameters (`digest`: 8 hex characters)."""
    name, _, revision = deploy_id_.partition(".")
    return f"{aws_name(name)}--fargate-{revision or '1'}-{digest}"


def is_fargate_family(family: str) -> bool:
    return _FARGATE_VARIANT.match(family) is not None


def deploy_id(task_definition_: str) -> str:
    """Task definition ARN or `family:rev` -> deploy id `name.rev` (prefix stripped). A Fargate variant's
    family names the deploy it was made from."""
    family_revision = task_definition_.split("/", 1)[-1] if task_definition_.startswith("arn:") else task_definition_
    family, _, revision = family_revision.partition(":")
    variant = _FARGATE_VARIANT.match(family)
    if variant:
        return f"{layer0_id(variant['family'])}.{variant['revision']}"
    return layer0_id(family_revision.replace(":", "."))
