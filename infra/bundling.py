"""The Lambda asset: `functions/` plus its pinned dependencies, bundled without Docker.

`try_bundle` runs pip for the Lambda platform (manylinux wheels only, for the runtime's Python
version), caches the result under `.build/lambda-deps-<sha256>/`, and copies the cache and the
runtime sources into the asset folder. CDK never pulls the placeholder image, because the local
bundler always succeeds or raises.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from infra.config import FUNCTIONS_DIR, ROOT


@dataclass(frozen=True)
class LambdaPlatform:
    """The runtime, the architecture and the wheels pip must pick for them: keep these together."""

    runtime: lambda_.Runtime
    architecture: lambda_.Architecture
    python_version: str  # for pip --python-version
    pip_platform: str  # for pip --platform


# AwsSolutions-L1 wants the newest Python runtime CDK knows; every pinned dependency has cp314 wheels.
# arm64 (Graviton): cheaper per GB-second than x86_64 and faster to start (docs/architecture.md#cold-start). pip
# fetches the aarch64 wheels (pydantic-core's is the only compiled one) at synth time; manylinux2014 is the tag
# pydantic-core publishes them under (manylinux_2_28 alone finds none).
PLATFORM = LambdaPlatform(
    runtime=lambda_.Runtime.PYTHON_3_14,
    architecture=lambda_.Architecture.ARM_64,
    python_version="3.14",
    pip_platform="manylinux2014_aarch64",
)

# Bump when the asset layout this module produces changes.
BUNDLER_VERSION = "1"

REQUIREMENTS = FUNCTIONS_DIR / "requirements.txt"
CACHE_ROOT = ROOT / ".build"

# Never copied from functions/ into the asset.
EXCLUDED_NAMES = {
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".venv",
    "venv",
    "tests",
    "requirements.txt",
}
EXCLUDED_SUFFIXES = (".pyc", ".pyo")
# Dropped from the installed dependencies: console scripts carry this machine's interpreter path.
DEPENDENCY_JUNK = ("bin",)


def dependencies_key(requirements: Path = REQUIREMENTS, platform: LambdaPlatform = PLATFORM) -> str:
    digest = hashlib.sha256()
    digest.update(requirements.read_bytes())
    digest.update(f"\0{platform.pip_platform}\0cp{platform.python_version}".encode())
    return digest.hexdigest()[:32]


def install_dependencies(
    requirements: Path = REQUIREMENTS, platform: LambdaPlatform = PLATFORM, cache_root: Path = CACHE_ROOT
) -> Path:
    """pip-install the requirements for the Lambda platform once; return the cached folder."""
    target = cache_root / f"lambda-deps-{dependencies_key(requirements, platform)}"
    if target.is_dir():
        return target
    cache_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="lambda-deps-tmp-", dir=cache_root))
    try:
        command = [
            sys.executable, "-m", "pip", "install",
            "--requirement", str(requirements),
            "--target", str(staging),
            "--platform", platform.pip_platform,
            "--implementation", "cp",
            "--python-version", platform.python_version,
            "--only-binary=:all:",
            "--no-compile",
            "--disable-pip-version-check",
            "--quiet",
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            wheels_for = f"{platform.pip_platform} / Python {platform.python_version}"
            output = f"{result.stdout}\n{result.stderr}"
            raise RuntimeError(f"pip could not install {requirements} for {wheels_for}:\n{output}")
        for name in DEPENDENCY_JUNK:
            shutil.rmtree(staging / name, ignore_errors=True)
        try:
            staging.rename(target)  # atomic: a concurrent synth either sees all of it or nothing
        except OSError:
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _ignore(directory: str, names: list[str]) -> set[str]:
    return {n for n in names if n in EXCLUDED_NAMES or n.endswith(EXCLUDED_SUFFIXES)}


def build_asset(output_dir: Path, source: Path = FUNCTIONS_DIR, platform: LambdaPlatform = PLATFORM) -> None:
    """Fill `output_dir` with the dependencies, then the runtime sources (sources win on a clash)."""
    dependencies = install_dependencies(source / "requirements.txt", platform)
    shutil.copytree(dependencies, output_dir, dirs_exist_ok=True)
    shutil.copytree(source, output_dir, dirs_exist_ok=True, ignore=_ignore)


@jsii.implements(ILocalBundling)
class PipLocalBundling:
    """CDK's local bundling hook (no Docker)."""

    def __init__(self, source: Path = FUNCTIONS_DIR, platform: LambdaPlatform = PLATFORM) -> None:
        self._source = source
        self._platform = platform

    def try_bundle(self, output_dir: str, *args: object, **options: object) -> bool:  # noqa: ARG002
        build_asset(Path(output_dir), self._source, self._platform)
        return True


def source_hash(source: Path = FUNCTIONS_DIR, platform: LambdaPlatform = PLATFORM) -> str:
    """The asset hash: this bundler's version, the platform, and every file the asset copies or installs from.

    CDK re-bundles (and re-uploads) exactly when it changes.
    """
    digest = hashlib.sha256(f"{BUNDLER_VERSION}\0{dependencies_key(source / 'requirements.txt', platform)}".encode())
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if any(part in EXCLUDED_NAMES - {"requirements.txt"} for part in relative.parts):
            continue
        if path.is_file() and not path.name.endswith(EXCLUDED_SUFFIXES):
            digest.update(f"\0{relative.as_posix()}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def function_code(source: Path = FUNCTIONS_DIR, platform: LambdaPlatform = PLATFORM) -> lambda_.Code:
    """One Code object for every function of a stack: CDK then bundles and uploads the asset once."""
    return lambda_.Code.from_asset(
        str(source),
        bundling=BundlingOptions(
            # Never pulled: PipLocalBundling always bundles (or raises).
            image=DockerImage.from_registry("unused"),
            local=PipLocalBundling(source, platform),
        ),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=source_hash(source, platform),
    )
