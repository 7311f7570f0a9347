"""What the CLI prints: the original CLI's text tables (pipe-separated columns aligned with two-space gutters) or,
with `-o json`, the API's models as indented JSON (docs/compatibility.md#how-the-cli-builds-its-requests).

Text goes to stdout; errors go to stderr as text, or to stdout as `{"Code": 1, "Message": ...}` under `-o json`, as
the original CLI did. Spinners and progress lines go to stderr, so they never mix with what a script reads.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from layer0_client import models

TEXT = "text"
JSON = "json"
FORMATS = (TEXT, JSON)


def columnize(rows: Sequence[Sequence[str]]) -> str:
    """ryanuber/columnize's default: every column but the last padded to its widest cell, joined by two spaces."""
    if not rows:
        return ""
    widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(max(len(row) for row in rows))]
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[i]) if i < len(row) - 1 else cell for i, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _rows(header: str, rows: Iterable[Sequence[str]]) -> list[list[str]]:
    """`A | B` headers and rows as the Go CLI builds them: columns split on `|`."""
    table = [[cell.strip() for cell in header.split("|")]]
    table.extend([str(cell) for cell in row] for row in rows)
    return table


def _time(text: str) -> str:
    moment = models.parse_time(text)
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else text


def _title(name: str) -> str:
    """`delete environment` -> `Delete Environment`; `(Unknown JobType=9!)` stays as it is."""
    return name if name.startswith("(") else name.title()


def _or(name: str, fallback: str) -> str:
    return name or fallback


class Printer:
    def __init__(self, mode: str = TEXT, out: TextIO | None = None, err: TextIO | None = None):
        self.mode = mode
        self.out = out or sys.stdout
        self.err = err or sys.stderr

    # --- plumbing -------------------------------------------------------------------------------------------------

    def _json(self, value: Any) -> None:
        self.out.write(json.dumps(value, indent=2) + "\n")

    def _table(self, header: str, rows: Iterable[Sequence[str]]) -> None:
        self.out.write(columnize(_rows(header, rows)) + "\n")

    def _print(self, items: Sequence[models.Model], header: str, rows: Iterable[Sequence[str]]) -> None:
        if self.mode == JSON:
            self._json([item.to_json() for item in items])
        else:
            self._table(header, rows)

    def _single(self, item: models.Model, header: str, row: Sequence[str]) -> None:
        if self.mode == JSON:
            self._json(item.to_json())
        else:
            self._table(header, [row])

    def message(self, text: str) -> None:
        if self.mode == JSON:
            self._json({"Message": text})
        else:
            self.out.write(text + "\n")

    def fatal(self, text: str) -> None:
        """An error: `{"Code": 1, "Message": ...}` on stdout under -o json (the original's JSON `Code` is always 1),
        else the text on stderr."""
        if self.mode == JSON:
            self._json({"Code": 1, "Message": text})
        else:
            self.err.write(text.rstrip("\n") + "\n")

    # --- entities -------------------------------------------------------------------------------------------------

    def environments(self, environments: Sequence[models.Environment]) -> None:
        header = "ENVIRONMENT ID | ENVIRONMENT NAME | OS | CLUSTER COUNT | INSTANCE SIZE | LINKS"
        # Type, architecture and scaling, shown at the end when the API has them, so that the original's columns
        # keep their place.
        extra = any(env.environment_type is not None for env in environments)
        if extra:
            header += " | TYPE | ARCHITECTURE | SCALING"
        rows: list[list[str]] = []
        for env in environments:
            links = env.links or [""]
            row = [
                env.environment_id,
                env.environment_name,
                env.operating_system,
                str(env.cluster_count),
                env.instance_size,
                links[0],
            ]
            if extra:
                row += [env.environment_type or "", env.architecture or "", env.scaling or ""]
            rows.append(row)
            rows.extend(["", "", "", "", "", link] for link in links[1:])
        self._print(environments, header, rows)

    def environment_summaries(self, environments: Sequence[models.EnvironmentSummary]) -> None:
        rows = [[env.environment_id, env.environment_name, env.operating_system] for env in environments]
        self._print(environments, "ENVIRONMENT ID | ENVIRONMENT NAME | OS", rows)

    def deploys(self, deploys: Sequence[models.Deploy] | Sequence[models.DeploySummary]) -> None:
        rows = [[deploy.deploy_id, deploy.deploy_name, deploy.version] for deploy in deploys]
        self._print(deploys, "DEPLOY ID | DEPLOY NAME | VERSION", rows)

    def jobs(self, jobs: Sequence[models.Job]) -> None:
        rows = [
            [job.job_id, job.task_id, _title(job.type_name), _title(job.status_name), _time(job.time_created)]
            for job in jobs
        ]
        self._print(jobs, "JOB ID | TASK ID | TYPE | STATUS | CREATED", rows)

    def load_balancers(self, load_balancers: Sequence[models.LoadBalancer]) -> None:
        header = "LOADBALANCER ID | LOADBALANCER NAME | ENVIRONMENT | SERVICE | PORTS | PUBLIC | URL | IDLE TIMEOUT"
        rows: list[list[str]] = []
        for lb in load_balancers:
            ports = [f"{p.host_port}:{p.container_port}/{p.protocol}".upper() for p in lb.ports] or [""]
            rows.append(
                [
                    lb.load_balancer_id,
                    lb.load_balancer_name,
                    _or(lb.environment_name, lb.environment_id),
                    _or(lb.service_name, lb.service_id),
                    ports[0],
                    str(lb.is_public).lower(),
                    lb.url,
                    str(lb.idle_timeout),
                ]
            )
            rows.extend(["", "", "", "", port, "", "", ""] for port in ports[1:])
        self._print(load_balancers, header, rows)

    def load_balancer_summaries(self, load_balancers: Sequence[models.LoadBalancerSummary]) -> None:
        rows = [
            [lb.load_balancer_id, lb.load_balancer_name, _or(lb.environment_name, lb.environment_id)]
            for lb in load_balancers
        ]
        self._print(load_balancers, "LOADBALANCER ID | LOADBALANCER NAME | ENVIRONMENT", rows)

    def health_check(self, lb: models.LoadBalancer) -> None:
        check = lb.health_check
        header = (
            "LOADBALANCER ID | LOADBALANCER NAME | TARGET | INTERVAL | TIMEOUT | HEALTHY THRESHOLD "
            "| UNHEALTHY THRESHOLD"
        )
        row = [
            lb.load_balancer_id,
            lb.load_balancer_name,
            check.target,
            str(check.interval),
            str(check.timeout),
            str(check.healthy_threshold),
            str(check.unhealthy_threshold),
        ]
        self._single(lb, header, row)

    def idle_timeout(self, lb: models.LoadBalancer) -> None:
        header = "LOADBALANCER ID | LOADBALANCER NAME | IDLE TIMEOUT"
        self._single(lb, header, [lb.load_balancer_id, lb.load_balancer_name, str(lb.idle_timeout)])

    def cross_zone(self, lb: models.LoadBalancer) -> None:
        header = "LOADBALANCER ID | LOADBALANCER NAME | CROSS-ZONE"
        self._single(lb, header, [lb.load_balancer_id, lb.load_balancer_name, str(lb.cross_zone).lower()])

    def services(self, services: Sequence[models.Service]) -> None:
        header = "SERVICE ID | SERVICE NAME | ENVIRONMENT | LOADBALANCER | DEPLOYMENTS | SCALE"
        extra = any(service.autoscaling is not None for service in services)
        if extra:
            header += " | AUTOSCALING"
        rows: list[list[str]] = []
        for service in services:
            deployments = [_deployment(d) for d in service.deployments] or [""]
            scale = f"{service.running_count}/{service.desired_count}"
            if service.pending_count:
                scale += f" ({service.pending_count})"
            row = [
                service.service_id,
                service.service_name,
                _or(service.environment_name, service.environment_id),
                _or(service.load_balancer_name, service.load_balancer_id),
                deployments[0],
                scale,
            ]
            if extra:
                auto = service.autoscaling
                row.append(f"{auto.min_count}-{auto.max_count}" if auto else "")
            rows.append(row)
            rows.extend(["", "", "", "", deployment, ""] for deployment in deployments[1:])
        self._print(services, header, rows)

    def service_summaries(self, services: Sequence[models.ServiceSummary]) -> None:
        rows = [
            [service.service_id, service.service_name, _or(service.environment_name, service.environment_id)]
            for service in services
        ]
        self._print(services, "SERVICE ID | SERVICE NAME | ENVIRONMENT", rows)

    def tasks(self, tasks: Sequence[models.Task]) -> None:
        rows = []
        for task in tasks:
            count = f"{task.running_count}/{max(1, len(task.copies))}"
            if task.pending_count:
                count += f" ({task.pending_count})"
            deploy = f"{task.deploy_name}:{task.deploy_version}" if task.deploy_name else task.deploy_id
            rows.append([task.task_id, task.task_name, _or(task.environment_name, task.environment_id), deploy, count])
        self._print(tasks, "TASK ID | TASK NAME | ENVIRONMENT | DEPLOY | COUNT", rows)

    def task_summaries(self, tasks: Sequence[models.TaskSummary]) -> None:
        rows = [[task.task_id, task.task_name, _or(task.environment_name, task.environment_id)] for task in tasks]
        self._print(tasks, "TASK ID | TASK NAME | ENVIRONMENT", rows)

    def logs(self, files: Sequence[models.LogFile]) -> None:
        if self.mode == JSON:
            self._json([file.to_json() for file in files])
            return
        for file in files:
            self.out.write(f"{file.name}\n{'-' * len(file.name)}\n")
            for line in file.lines:
                self.out.write(line + "\n")
            self.out.write("\n")

    def log_lines(self, name: str, lines: Sequence[str]) -> None:
        """New lines while following: `name | line` in text, one JSON object per line under -o json."""
        for line in lines:
            if self.mode == JSON:
                self.out.write(json.dumps({"name": name, "line": line}) + "\n")
            else:
                self.out.write(f"{name} | {line}\n")
        self.out.flush()

    def scaler_run(self, info: models.ScalerRunInfo) -> None:
        header = "ENVIRONMENT | CURRENT SCALE | DESIRED SCALE"
        row = [info.environment_id, str(info.scale_before_run), str(info.actual_scale_after_run)]
        self._single(info, header, row)

    def secrets(self, secrets: Sequence[models.Secret]) -> None:
        rows = [[secret.secret_name, secret.secret_arn, _time(secret.last_changed)] for secret in secrets]
        self._print(secrets, "SECRET NAME | SECRET ARN | LAST CHANGED", rows)


def _deployment(deployment: models.Deployment) -> str:
    if deployment.deploy_name:
        text = f"{deployment.deploy_name}:{deployment.deploy_version}"
    else:
        text = deployment.deploy_id.replace(".", ":")
    return text + ("*" if deployment.running_count != deployment.desired_count else "")
