"""Instance metadata (README.md#instance-metadata): the environments' launch templates require IMDSv2 with a hop limit
of 1, so a container in bridge mode (one hop further) cannot take the instance role's credentials; the instance
setting `-c imds_hop_limit=2` (LAYER0_IMDS_HOP_LIMIT) allows 2."""

from __future__ import annotations

import pytest

from layer0 import environments, settings
from layer0.models import CreateEnvironmentRequest
from tests.conftest import setup_client


def _metadata_options(environment_id: str) -> dict:
    [version] = setup_client("ec2").describe_launch_template_versions(
        LaunchTemplateName=f"l0-l0-{environment_id}", Versions=["$Latest"]
    )["LaunchTemplateVersions"]
    return version["LaunchTemplateData"]["MetadataOptions"]


def _create() -> str:
    request = CreateEnvironmentRequest(environment_name="web", operating_system="linux", instance_size="t3.micro")
    return environments.create(request).environment_id


def test_launch_templates_keep_containers_from_the_instance_metadata_by_default(stack):
    options = _metadata_options(_create())
    assert options["HttpTokens"] == "required"
    assert options["HttpEndpoint"] == "enabled"
    assert options["HttpPutResponseHopLimit"] == 1


def test_the_instance_setting_allows_a_hop_limit_of_2(stack, monkeypatch):
    monkeypatch.setenv("LAYER0_IMDS_HOP_LIMIT", "2")
    settings.get.cache_clear()
    options = _metadata_options(_create())
    assert (options["HttpTokens"], options["HttpPutResponseHopLimit"]) == ("required", 2)


@pytest.mark.parametrize("value, expected", [(None, 1), ("1", 1), ("2", 2)])
def test_the_setting_is_1_unless_set(value, expected):
    env = {} if value is None else {"LAYER0_IMDS_HOP_LIMIT": value}
    assert settings.from_environment(env).imds_hop_limit == expected


@pytest.mark.parametrize("value", ["0", "3", "64"])
def test_other_hop_limits_are_refused(value):
    with pytest.raises(ValueError, match="LAYER0_IMDS_HOP_LIMIT"):
        settings.from_environment({"LAYER0_IMDS_HOP_LIMIT": value})
