"""Context parsing and the bundler's cache keys: no synth needed."""

from __future__ import annotations

import pytest

from infra import bundling
from infra.config import DEFAULT_API_VERSION, Config, Throughput


def context(**values):
    return Config.from_context(values.get)


def test_defaults():
    config = context()
    assert config == Config(
        prefix="l0", vpc_id=None, api_version=DEFAULT_API_VERSION, throughput=Throughput(10, None, None)
    )
    assert config.name == "l0-l0"
    assert config.resource_name("tags") == "l0-l0-tags"
    assert DEFAULT_API_VERSION  # read from functions/layer0/settings.py


def test_values_from_the_command_line_are_strings():
    config = context(prefix="dev2", vpc_id="vpc-0123456789abcdef0", api_concurrency="3", aws_rate="1.5", aws_burst="4")
    assert config.vpc_id == "vpc-0123456789abcdef0"
    assert config.throughput == Throughput(api_concurrency=3, aws_rate=1.5, aws_burst=4)
    assert config.throughput.aggregate_aws_rate == 4.5
    assert config.throughput.environment() == {
        "LAYER0_AWS_CONTAINERS": "7",  # 3 for the API, 2 for the events function, the steps and the scaler
        "LAYER0_AWS_RATE": "1.5",
        "LAYER0_AWS_BURST": "4",
    }


def test_the_imds_hop_limit_is_1_unless_set_to_2():
    assert context().imds_hop_limit == 1
    assert context(imds_hop_limit="2").imds_hop_limit == 2
    assert context(imds_hop_limit=1).imds_hop_limit == 1
    for refused in ("0", "3", "two"):
        with pytest.raises(ValueError, match="imds_hop_limit"):
            context(imds_hop_limit=refused)


def test_values_from_cdk_json_are_numbers():
    assert context(api_concurrency=5, aws_rate=2, aws_burst=3).throughput == Throughput(5, 2.0, 3)


def test_container_policy_is_permissive_unless_set_strict():
    assert context().container_policy == "permissive"
    assert context(container_policy="strict").container_policy == "strict"
    assert context(container_policy=" Strict ").container_policy == "strict"
    assert context(container_policy="").container_policy == "permissive"
    with pytest.raises(ValueError, match="context container_policy must be one of permissive, strict, not 'lax'"):
        context(container_policy="lax")


@pytest.mark.parametrize("prefix", ["", "L0", "1abc", "a-b", "abcdefghijklmnopq"])
def test_bad_prefixes_are_refused(prefix):
    with pytest.raises(ValueError, match="prefix"):
        context(prefix=prefix)


@pytest.mark.parametrize(
    "values",
    [
        {"vpc_id": "vpc-123"},
        {"vpc_id": "subnet-12345678"},
        {"api_version": "it's"},
        {"api_concurrency": "0"},
        {"api_concurrency": "many"},
        {"aws_rate": "0"},
        {"aws_burst": "-1"},
    ],
)
def test_bad_values_are_refused(values):
    with pytest.raises(ValueError):
        context(**values)


def test_dependency_cache_key_follows_requirements_and_platform(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("pydantic==2.14.4\n")
    key = bundling.dependencies_key(requirements)
    assert key == bundling.dependencies_key(requirements)
    x86 = bundling.LambdaPlatform(
        runtime=bundling.PLATFORM.runtime,
        architecture=bundling.PLATFORM.architecture,
        python_version=bundling.PLATFORM.python_version,
        pip_platform="manylinux2014_x86_64",
    )
    assert bundling.dependencies_key(requirements, x86) != key
    requirements.write_text("pydantic==2.14.5\n")
    assert bundling.dependencies_key(requirements) != key


def test_asset_hash_ignores_caches_but_not_sources(tmp_path):
    (tmp_path / "requirements.txt").write_text("")
    (tmp_path / "handlers").mkdir()
    (tmp_path / "handlers" / "api.py").write_text("x = 1\n")
    before = bundling.source_hash(tmp_path)
    (tmp_path / "handlers" / "__pycache__").mkdir()
    (tmp_path / "handlers" / "__pycache__" / "api.cpython-311.pyc").write_bytes(b"\0")
    assert bundling.source_hash(tmp_path) == before
    (tmp_path / "handlers" / "api.py").write_text("x = 2\n")
    assert bundling.source_hash(tmp_path) != before


def test_runtime_and_wheels_agree():
    platform = bundling.PLATFORM
    assert platform.runtime.name == f"python{platform.python_version}"
    arch = {"x86_64": "x86_64", "arm64": "aarch64"}[platform.architecture.name]
    assert platform.pip_platform.endswith(arch)
