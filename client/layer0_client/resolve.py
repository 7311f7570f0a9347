"""Names to ids as the original CLI resolves them (docs/compatibility.md#how-the-cli-builds-its-requests), through
`GET /tag?type=<entity>&fuzz=<target>`.

- A target may end with `*`: a prefix match on the id or the `name` tag. Without it, only exact matches count.
- `service`, `load_balancer` and `task` targets may be `ENV:NAME`; `deploy` targets `NAME[:VERSION]`, where
  VERSION may be `latest`.
"""

from __future__ import annotations

from layer0_client.client import Client
from layer0_client.errors import Layer0ClientError

TITLES = {
    "environment": "Environment",
    "deploy": "Deploy",
    "load_balancer": "Load Balancer",
    "service": "Service",
    "task": "Task",
    "job": "Job",
}
ENVIRONMENT_SCOPED = frozenset({"service", "load_balancer", "task"})


class LookupFailed(Layer0ClientError):
    """No match, several matches where one was needed, or a malformed target."""


class UsageError(LookupFailed):
    """A target the CLI refuses before asking the API (printed as `Incorrect Usage`)."""


class Resolver:
    def __init__(self, client: Client):
        self.client = client

    def resolve(self, entity_type: str, target: str) -> list[str]:
        """Every id `target` names (may be empty)."""
        if "*" in target[:-1]:
            raise UsageError("Wildcard matching ('*') can only be done at the end of a target.")
        filters: dict[str, str] = {}
        if entity_type in ENVIRONMENT_SCOPED and ":" in target:
            environment, _, target = target.partition(":")
            filters["environment_id"] = self.resolve_one("environment", environment)
        elif entity_type == "deploy" and ":" in target:
            target, _, version = target.partition(":")
            filters["version"] = version
        wildcard = target.endswith("*")
        fuzz = target.rstrip("*")
        entities = self.client.list_tags(entity_type, fuzz=fuzz, **filters)
        if wildcard:
            return [entity.entity_id for entity in entities]
        return [entity.entity_id for entity in entities if target in (entity.entity_id, entity.tag("name"))]

    def resolve_one(self, entity_type: str, target: str) -> str:
        ids = self.resolve(entity_type, target)
        title = TITLES.get(entity_type, entity_type)
        if not ids:
            hint = "" if target.endswith("*") else " Did you forget to add a wildcard ('*') to the end of your query?"
            raise LookupFailed(f"{title} lookup using '{target}' yielded no matches.{hint}")
        if len(ids) > 1:
            listed = "".join(f"{entity_id} \n" for entity_id in ids)
            raise LookupFailed(f"{title} lookup using '{target}' yielded multiple matches: \n{listed}")
        return ids[0]

    def resolve_some(self, entity_type: str, target: str) -> list[str]:
        """`get` commands print every match, but need at least one."""
        ids = self.resolve(entity_type, target)
        if not ids:
            self.resolve_one(entity_type, target)  # raises the no-match error
        return ids
