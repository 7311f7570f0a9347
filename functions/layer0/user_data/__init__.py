"""Default user data of environment instances, and the renderer of user-data templates
(docs/compatibility.md#environments).

Templates use the Go text/template fields of the original, `{{ .ECSEnvironmentID }}` and `{{ .S3Bucket }}`,
so that users' existing templates keep working. The defaults target the current ECS-optimised AMIs
(Amazon Linux 2023 and Windows Server 2022), which come with the ECS agent and the AWS CLI installed.
"""

from __future__ import annotations

import re

LINUX = """#!/bin/bash
cat >> /etc/ecs/ecs.config <<'EOF'
ECS_CLUSTER={{ .ECSEnvironmentID }}
ECS_ENGINE_AUTH_TYPE=dockercfg
EOF
if aws s3 cp s3://{{ .S3Bucket }}/bootstrap/dockercfg /tmp/dockercfg; then
  echo "ECS_ENGINE_AUTH_DATA=$(cat /tmp/dockercfg)" >> /etc/ecs/ecs.config
fi
"""

WINDOWS = """<powershell>
$dockercfg = "$env:TEMP\\dockercfg"
try {
  Read-S3Object -BucketName '{{ .S3Bucket }}' -Key 'bootstrap/dockercfg' -File $dockercfg | Out-Null
  [Environment]::SetEnvironmentVariable("ECS_ENGINE_AUTH_TYPE", "dockercfg", "Machine")
  [Environment]::SetEnvironmentVariable("ECS_ENGINE_AUTH_DATA", (Get-Content $dockercfg -Raw), "Machine")
} catch {
  Write-Output "No registry credentials: $_"
}
Import-Module ECSTools
Initialize-ECSAgent -Cluster '{{ .ECSEnvironmentID }}' -EnableTaskIAMRole
</powershell>
"""

DEFAULTS = {"linux": LINUX, "windows": WINDOWS}

_ACTION = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_FIELD = re.compile(r"^\s*\.(\w+)\s*$")


class TemplateError(ValueError):
    pass


def render(template: str, fields: dict[str, str]) -> str:
    """Replace each `{{ .Field }}` (any spacing); anything else between `{{ }}` is an error."""

    def replace(match: re.Match) -> str:
        found = _FIELD.match(match.group(1))
        if not found:
            raise TemplateError(f"unsupported template action '{match.group(0)}'")
        name = found.group(1)
        if name not in fields:
            known = ", ".join(f".{key}" for key in fields)
            raise TemplateError(f"unknown field '.{name}' (known fields: {known})")
        return fields[name]

    return _ACTION.sub(replace, template)
