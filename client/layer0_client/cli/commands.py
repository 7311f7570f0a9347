"""The commands, group by group, as the original CLI has them (docs/compatibility.md#how-the-cli-builds-its-requests),
plus `secret`, `service autoscaling` and the new flags."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from layer0_client import API_VERSION, models
from layer0_client.cli import follow
from layer0_client.cli.state import State, state
from layer0_client.client import ServiceChange
from layer0_client.errors import Layer0ClientError
from layer0_client.resolve import UsageError

JOB_MESSAGE = "This operation is running as a job. Run `l0 job get {}` to see progress"
JOB_FAILED = "An error occurred during the job's execution. Use 'l0 job logs {}' for more information"


def option(*names: str, **kwargs: Any) -> Callable[[Any], Any]:
    """An option that also takes the Go spelling with one dash (`-wait`), as the original CLI's flag library did."""
    decls = [n for name in names for n in ((name, "-" + name[2:]) if name.startswith("--") else (name,))]
    return click.option(*decls, **kwargs)


def complete(entity_type: str) -> Callable[[click.Context, click.Parameter, str], list[str]]:
    """Shell completion of names from `GET /tag`; nothing when the API cannot be reached."""

    def names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
        current = state(ctx)
        current.profile = ctx.find_root().params.get("profile")
        try:
            entities = current.client.list_tags(entity_type, fuzz=incomplete)
        except (Layer0ClientError, click.ClickException):
            return []
        found = {entity.tag("name") or entity.entity_id for entity in entities}  # ids only of unnamed ones
        return sorted(name for name in found if name.startswith(incomplete))

    return names


def name_argument(entity_type: str, metavar: str = "NAME", name: str = "name") -> Callable[[Any], Any]:
    return click.argument(name, metavar=metavar, shell_complete=complete(entity_type))


wait_option = option("--wait", is_flag=True, help="Wait until the operation has finished")
tail_option = option("--tail", type=int, default=0, help="Only the last N lines")
start_option = option("--start", default="", help="From this time: YYYY-MM-DD HH:MM (UTC)")
end_option = option("--end", default="", help="Until this time: YYYY-MM-DD HH:MM (UTC)")
follow_option = option("--follow", "-f", "follow_", is_flag=True, help="Keep printing new lines (Ctrl-C stops)")


def _int(text: str) -> int:
    if not text.lstrip("-").isdigit():
        raise UsageError(f"'{text}' is not a valid integer")
    return int(text)


def wait_or_report(current: State, job_id: str, wait: bool, doing: str) -> None:
    """A job's id without --wait; with it, a spinner until the job ends (exit 1 if in error)."""
    if not wait:
        current.printer.message(JOB_MESSAGE.format(job_id))
        return
    with current.console.status(doing):
        job = current.client.wait_for_job(job_id)
    _raise_if_failed(job)


def _raise_if_failed(job: models.Job) -> None:
    if job.job_status == models.JobStatus.Error:
        reason = job.meta.get("error")
        raise Layer0ClientError(JOB_FAILED.format(job.job_id) + (f": {reason}" if reason else ""))


# --- admin -----------------------------------------------------------------------------------------------------------


@click.group(help="Manage the Layer0 API")
def admin() -> None:
    pass


@admin.command("debug")
@click.pass_context
def admin_debug(ctx: click.Context) -> None:
    """Prints the CLI's settings and the API's version (the token masked)."""
    current = state(ctx)
    settings = current.settings
    api_version = current.client.admin_version()
    token = settings.token[:4] + "..." if settings.token else "(none)"
    lines = [
        "DEBUG REPORT",
        "------------",
        f"API Endpoint:   {settings.endpoint}",
        f"API Version:    {api_version}",
        f"CLI Version:    {API_VERSION}",
        f"CLI Auth:       {token}",
        f"SSL Verify:     {'disabled' if settings.skip_ssl_verify else 'enabled'}",
        f"Version Verify: {'disabled' if settings.skip_version_verify else 'enabled'}",
    ]
    current.printer.message("\n".join(lines))


@admin.command("sql")
@click.pass_context
def admin_sql(ctx: click.Context) -> None:
    """Initializes the API's stores."""
    state(ctx).client.admin_sql()
    state(ctx).printer.message("Successfully Configured SQL")


@admin.command("version")
@click.pass_context
def admin_version(ctx: click.Context) -> None:
    """Prints the API's version."""
    state(ctx).printer.message(state(ctx).client.admin_version())


@admin.command("scale")
@name_argument("environment", "ENVIRONMENT", "environment")
@click.pass_context
def admin_scale(ctx: click.Context, environment: str) -> None:
    """Runs the scaler of an environment now."""
    current = state(ctx)
    environment_id = current.resolver.resolve_one("environment", environment)
    current.printer.scaler_run(current.client.admin_scale(environment_id))


# --- deploy ----------------------------------------------------------------------------------------------------------


@click.group(help="Manage deploys (Dockerrun documents)")
def deploy() -> None:
    pass


@deploy.command("create")
@click.argument("path", metavar="PATH")
@click.argument("name", metavar="NAME")
@click.pass_context
def deploy_create(ctx: click.Context, path: str, name: str) -> None:
    """Registers the Dockerrun file PATH as a new version of deploy NAME."""
    try:
        content = Path(path).read_bytes()
    except OSError as error:
        raise Layer0ClientError(f"Failed to read {path}: {error.strerror}") from error
    state(ctx).printer.deploys([state(ctx).client.create_deploy(name, content)])


@deploy.command("delete")
@name_argument("deploy")
@click.pass_context
def deploy_delete(ctx: click.Context, name: str) -> None:
    """Deletes a deploy (NAME[:VERSION])."""
    current = state(ctx)
    current.client.delete_deploy(current.resolver.resolve_one("deploy", name))


@deploy.command("get")
@name_argument("deploy")
@click.pass_context
def deploy_get(ctx: click.Context, name: str) -> None:
    """Shows every deploy matching NAME[:VERSION] (VERSION may be `latest`; NAME may end with `*`)."""
    current = state(ctx)
    ids = current.resolver.resolve_some("deploy", name)
    current.printer.deploys([current.client.get_deploy(deploy_id) for deploy_id in ids])


@deploy.command("list")
@option("--all", "all_", is_flag=True, help="Every version, and deploys without a name")
@click.pass_context
def deploy_list(ctx: click.Context, all_: bool) -> None:
    """Lists the newest version of each deploy."""
    current = state(ctx)
    deploys = current.client.list_deploys()
    if not all_:
        newest: dict[str, models.DeploySummary] = {}
        for summary in deploys:
            if not summary.deploy_name:
                continue
            best = newest.get(summary.deploy_name)
            if best is None or _version(summary.version) > _version(best.version):
                newest[summary.deploy_name] = summary
        deploys = list(newest.values())
    current.printer.deploys(deploys)


def _version(text: str) -> int:
    return int(text) if text.isdigit() else -1


# --- environment -----------------------------------------------------------------------------------------------------


@click.group(help="Manage environments")
def environment() -> None:
    pass


@environment.command("create")
@click.argument("name", metavar="NAME")
@option("--size", help="Instance type (default m3.medium)")
@option("--min-count", type=int, help="Minimum instance count (default 0)")
@option("--user-data", help="A user-data template file")
@option("--os", "os_", default="linux", show_default=True, help="linux or windows")
@option("--ami", help="AMI id (default: the ECS-optimized AMI)")
@option("--type", "type_", help="ec2 (default) or fargate")
@option("--spot", is_flag=True, help="Fargate: prefer FARGATE_SPOT, with a base of 1 on FARGATE")
@option("--scaling", help="EC2: managed (default) or layer0")
@click.pass_context
def environment_create(
    ctx: click.Context,
    name: str,
    size: str | None,
    min_count: int | None,
    user_data: str | None,
    os_: str,
    ami: str | None,
    type_: str | None,
    spot: bool,
    scaling: str | None,
) -> None:
    """Creates an environment. --type fargate takes none of --size, --min-count, --user-data, --ami."""
    fargate = (type_ or "").lower() == "fargate"
    template = None
    if user_data is not None:
        try:
            template = Path(user_data).read_bytes()
        except OSError as error:
            raise Layer0ClientError(f"Failed to read {user_data}: {error.strerror}") from error
    created = state(ctx).client.create_environment(
        name,
        # The original CLI's defaults, for EC2 only: a Fargate environment refuses these fields (400).
        instance_size=size if (size is not None or fargate) else "m3.medium",
        min_cluster_count=min_count if (min_count is not None or fargate) else 0,
        user_data_template=template,
        operating_system=os_,
        ami_id=ami,
        environment_type=type_,
        spot=True if spot else None,
        scaling=scaling,
    )
    state(ctx).printer.environments([created])


@environment.command("delete")
@name_argument("environment")
@wait_option
@click.pass_context
def environment_delete(ctx: click.Context, name: str, wait: bool) -> None:
    """Deletes an environment and everything in it (a job)."""
    current = state(ctx)
    job_id = current.client.delete_environment(current.resolver.resolve_one("environment", name))
    wait_or_report(current, job_id, wait, "Deleting")


@environment.command("get")
@name_argument("environment")
@click.pass_context
def environment_get(ctx: click.Context, name: str) -> None:
    """Shows every environment matching NAME."""
    current = state(ctx)
    ids = current.resolver.resolve_some("environment", name)
    current.printer.environments([current.client.get_environment(environment_id) for environment_id in ids])


@environment.command("list")
@click.pass_context
def environment_list(ctx: click.Context) -> None:
    """Lists the environments."""
    state(ctx).printer.environment_summaries(state(ctx).client.list_environments())


@environment.command("setmincount")
@name_argument("environment")
@click.argument("count", metavar="COUNT")
@click.pass_context
def environment_setmincount(ctx: click.Context, name: str, count: str) -> None:
    """Sets the minimum instance count."""
    number = _int(count)
    current = state(ctx)
    environment_id = current.resolver.resolve_one("environment", name)
    current.printer.environments([current.client.update_environment(environment_id, number)])


def _pair(current: State, source: str, destination: str) -> tuple[str, str]:
    if source == destination:
        raise UsageError("Cannot link an environment to itself")
    source_id = current.resolver.resolve_one("environment", source)
    destination_id = current.resolver.resolve_one("environment", destination)
    if source_id == destination_id:
        raise UsageError("Cannot link an environment to itself")
    return source_id, destination_id


@environment.command("link")
@name_argument("environment", "SOURCE", "source")
@name_argument("environment", "DESTINATION", "destination")
@click.pass_context
def environment_link(ctx: click.Context, source: str, destination: str) -> None:
    """Lets two environments' containers reach each other."""
    current = state(ctx)
    current.client.link_environments(*_pair(current, source, destination))
    current.printer.message("Environment successfully linked")


@environment.command("unlink")
@name_argument("environment", "SOURCE", "source")
@name_argument("environment", "DESTINATION", "destination")
@click.pass_context
def environment_unlink(ctx: click.Context, source: str, destination: str) -> None:
    """Removes a link."""
    current = state(ctx)
    current.client.unlink_environments(*_pair(current, source, destination))
    current.printer.message("Environment successfully unlinked")


# --- job -------------------------------------------------------------------------------------------------------------


@click.group(help="Manage jobs")
def job() -> None:
    pass


@job.command("delete")
@name_argument("job")
@click.pass_context
def job_delete(ctx: click.Context, name: str) -> None:
    """Stops and deletes a job."""
    current = state(ctx)
    current.client.delete_job(current.resolver.resolve_one("job", name))


@job.command("get")
@name_argument("job")
@click.pass_context
def job_get(ctx: click.Context, name: str) -> None:
    """Shows every job matching NAME."""
    current = state(ctx)
    ids = current.resolver.resolve_some("job", name)
    current.printer.jobs([current.client.get_job(job_id) for job_id in ids])


@job.command("list")
@click.pass_context
def job_list(ctx: click.Context) -> None:
    """Lists the jobs, every type named (6 is a rollout)."""
    state(ctx).printer.jobs(state(ctx).client.list_jobs())


@job.command("logs")
@name_argument("job")
@tail_option
@start_option
@end_option
@click.pass_context
def job_logs(ctx: click.Context, name: str, tail: int, start: str, end: str) -> None:
    """The job's history."""
    current = state(ctx)
    found = current.client.get_job(current.resolver.resolve_one("job", name))
    files = current.client.get_task_logs(found.task_id or found.job_id, tail or None, start or None, end or None)
    current.printer.logs(files)


# --- loadbalancer ----------------------------------------------------------------------------------------------------


@click.group(help="Manage load balancers")
def loadbalancer() -> None:
    pass


def parse_port(text: str, certificate: str = "") -> models.Port:
    """`HOST:CONTAINER/PROTOCOL`; a certificate (a name, or an ARN when it starts with `arn:`) only on https."""
    ports, _, protocol = text.partition("/")
    host, _, container = ports.partition(":")
    if not (host.isdigit() and container.isdigit() and protocol):
        raise UsageError(f"Invalid port '{text}': expected HOST_PORT:CONTAINER_PORT/PROTOCOL, e.g. 443:80/https")
    port = models.Port(host_port=int(host), container_port=int(container), protocol=protocol)
    if protocol.lower() == "https" and certificate:
        if certificate.startswith("arn:"):
            port.certificate_arn = certificate
        else:
            port.certificate_name = certificate
    return port


certificate_option = option("--certificate", default="", help="Certificate name or ARN, for https ports")


@loadbalancer.command("create")
@name_argument("environment", "ENVIRONMENT", "environment_name")
@click.argument("name", metavar="NAME")
@option("--port", "ports", multiple=True, help="HOST:CONTAINER/PROTOCOL, repeatable (default 80:80/tcp)")
@certificate_option
@option("--private", is_flag=True, help="An internal load balancer")
@option("--healthcheck-target", default="TCP:80", show_default=True)
@option("--healthcheck-interval", type=int, default=30, show_default=True)
@option("--healthcheck-timeout", type=int, default=5, show_default=True)
@option("--healthcheck-healthy-threshold", type=int, default=2, show_default=True)
@option("--healthcheck-unhealthy-threshold", type=int, default=2, show_default=True)
@option("--idle-timeout", type=int, default=60, show_default=True)
@option("--disable-cross-zone", is_flag=True)
@option("--type", "type_", help="classic (default) or application")
@click.pass_context
def loadbalancer_create(
    ctx: click.Context,
    environment_name: str,
    name: str,
    ports: tuple[str, ...],
    certificate: str,
    private: bool,
    healthcheck_target: str,
    healthcheck_interval: int,
    healthcheck_timeout: int,
    healthcheck_healthy_threshold: int,
    healthcheck_unhealthy_threshold: int,
    idle_timeout: int,
    disable_cross_zone: bool,
    type_: str | None,
) -> None:
    """Creates a load balancer: a classic ELB, or with --type application an ALB."""
    listeners = [parse_port(text, certificate) for text in (ports or ("80:80/tcp",))]
    current = state(ctx)
    environment_id = current.resolver.resolve_one("environment", environment_name)
    check = models.HealthCheck(
        target=healthcheck_target,
        interval=healthcheck_interval,
        timeout=healthcheck_timeout,
        healthy_threshold=healthcheck_healthy_threshold,
        unhealthy_threshold=healthcheck_unhealthy_threshold,
    )
    created = current.client.create_load_balancer(
        name,
        environment_id,
        is_public=not private,
        ports=listeners,
        health_check=check,
        idle_timeout=idle_timeout,
        cross_zone=not disable_cross_zone,
        load_balancer_type=type_,
    )
    current.printer.load_balancers([created])


@loadbalancer.command("addport")
@name_argument("load_balancer")
@click.argument("port", metavar="HOST_PORT:CONTAINER_PORT/PROTOCOL")
@certificate_option
@click.pass_context
def loadbalancer_addport(ctx: click.Context, name: str, port: str, certificate: str) -> None:
    """Adds a listener."""
    new = parse_port(port, certificate)
    current = state(ctx)
    lb_id = current.resolver.resolve_one("load_balancer", name)
    ports = [*current.client.get_load_balancer(lb_id).ports, new]
    current.printer.load_balancers([current.client.update_load_balancer_ports(lb_id, ports)])


@loadbalancer.command("dropport")
@name_argument("load_balancer")
@click.argument("host_port", metavar="HOST_PORT")
@click.pass_context
def loadbalancer_dropport(ctx: click.Context, name: str, host_port: str) -> None:
    """Removes the listeners on HOST_PORT."""
    number = _int(host_port)
    current = state(ctx)
    lb_id = current.resolver.resolve_one("load_balancer", name)
    ports = current.client.get_load_balancer(lb_id).ports
    kept = [p for p in ports if p.host_port != number]
    if len(kept) == len(ports):
        raise Layer0ClientError(f"Host port '{host_port}' doesn't exist on this Load Balancer")
    current.printer.load_balancers([current.client.update_load_balancer_ports(lb_id, kept)])


@loadbalancer.command("healthcheck")
@name_argument("load_balancer")
@option("--set-target", default="")
@option("--set-interval", type=int, default=0)
@option("--set-timeout", type=int, default=0)
@option("--set-healthy-threshold", type=int, default=0)
@option("--set-unhealthy-threshold", type=int, default=0)
@click.pass_context
def loadbalancer_healthcheck(
    ctx: click.Context,
    name: str,
    set_target: str,
    set_interval: int,
    set_timeout: int,
    set_healthy_threshold: int,
    set_unhealthy_threshold: int,
) -> None:
    """Shows the health check; the --set-* flags change it."""
    current = state(ctx)
    lb_id = current.resolver.resolve_one("load_balancer", name)
    lb = current.client.get_load_balancer(lb_id)
    changes = {
        "target": set_target,
        "interval": set_interval,
        "timeout": set_timeout,
        "healthy_threshold": set_healthy_threshold,
        "unhealthy_threshold": set_unhealthy_threshold,
    }
    changes = {key: value for key, value in changes.items() if value}
    if changes:
        lb = current.client.update_load_balancer_health_check(lb_id, lb.health_check.model_copy(update=changes))
    current.printer.health_check(lb)


@loadbalancer.command("idletimeout")
@name_argument("load_balancer")
@click.argument("timeout", metavar="TIMEOUT")
@click.pass_context
def loadbalancer_idletimeout(ctx: click.Context, name: str, timeout: str) -> None:
    """Sets the idle timeout, in seconds."""
    seconds = _int(timeout)
    current = state(ctx)
    lb_id = current.resolver.resolve_one("load_balancer", name)
    current.printer.idle_timeout(current.client.update_load_balancer_idle_timeout(lb_id, seconds))


@loadbalancer.command("cross-zone")
@name_argument("load_balancer")
@option("--enable", is_flag=True)
@option("--disable", is_flag=True)
@click.pass_context
def loadbalancer_cross_zone(ctx: click.Context, name: str, enable: bool, disable: bool) -> None:
    """Shows cross-zone load balancing; --enable or --disable changes it."""
    if enable and disable:
        raise UsageError("Only one of --enable or --disable may be given")
    current = state(ctx)
    lb_id = current.resolver.resolve_one("load_balancer", name)
    if enable or disable:
        lb = current.client.update_load_balancer_cross_zone(lb_id, enable)
    else:
        lb = current.client.get_load_balancer(lb_id)
    current.printer.cross_zone(lb)


@loadbalancer.command("delete")
@name_argument("load_balancer")
@wait_option
@click.pass_context
def loadbalancer_delete(ctx: click.Context, name: str, wait: bool) -> None:
    """Deletes a load balancer (a job)."""
    current = state(ctx)
    job_id = current.client.delete_load_balancer(current.resolver.resolve_one("load_balancer", name))
    wait_or_report(current, job_id, wait, "Deleting")


@loadbalancer.command("get")
@name_argument("load_balancer")
@click.pass_context
def loadbalancer_get(ctx: click.Context, name: str) -> None:
    """Shows every load balancer matching [ENVIRONMENT:]NAME."""
    current = state(ctx)
    ids = current.resolver.resolve_some("load_balancer", name)
    current.printer.load_balancers([current.client.get_load_balancer(lb_id) for lb_id in ids])


@loadbalancer.command("list")
@click.pass_context
def loadbalancer_list(ctx: click.Context) -> None:
    """Lists the load balancers."""
    state(ctx).printer.load_balancer_summaries(state(ctx).client.list_load_balancers())


# --- service ---------------------------------------------------------------------------------------------------------


@click.group(help="Manage services")
def service() -> None:
    pass


def _changed(current: State, change: ServiceChange, wait: bool) -> None:
    """The service; with --wait, after following its rollout to the end."""
    current.printer.services([follow.rollout(current, change) if wait else change.service])


@service.command("create")
@name_argument("environment", "ENVIRONMENT", "environment_name")
@click.argument("name", metavar="NAME")
@name_argument("deploy", "DEPLOY", "deploy_target")
@option("--loadbalancer", "loadbalancer_name", default="", help="A load balancer of the environment")
@wait_option
@click.pass_context
def service_create(
    ctx: click.Context, environment_name: str, name: str, deploy_target: str, loadbalancer_name: str, wait: bool
) -> None:
    """Creates a service; --wait shows its rollout until it ends."""
    current = state(ctx)
    environment_id = current.resolver.resolve_one("environment", environment_name)
    deploy_id = current.resolver.resolve_one("deploy", deploy_target)
    lb_id = ""
    if loadbalancer_name:
        lb_id = current.resolver.resolve_one("load_balancer", f"{environment_name}:{loadbalancer_name}")
    _changed(current, current.client.create_service(name, environment_id, deploy_id, lb_id), wait)


@service.command("update")
@name_argument("service")
@name_argument("deploy", "DEPLOY", "deploy_target")
@wait_option
@click.pass_context
def service_update(ctx: click.Context, name: str, deploy_target: str, wait: bool) -> None:
    """Runs another deploy."""
    current = state(ctx)
    service_id = current.resolver.resolve_one("service", name)
    deploy_id = current.resolver.resolve_one("deploy", deploy_target)
    _changed(current, current.client.update_service(service_id, deploy_id), wait)


@service.command("scale")
@name_argument("service")
@click.argument("count", metavar="COUNT")
@wait_option
@click.pass_context
def service_scale(ctx: click.Context, name: str, count: str, wait: bool) -> None:
    """Sets the desired count."""
    number = _int(count)
    current = state(ctx)
    service_id = current.resolver.resolve_one("service", name)
    _changed(current, current.client.scale_service(service_id, number), wait)


@service.command("delete")
@name_argument("service")
@wait_option
@click.pass_context
def service_delete(ctx: click.Context, name: str, wait: bool) -> None:
    """Deletes a service (a job)."""
    current = state(ctx)
    job_id = current.client.delete_service(current.resolver.resolve_one("service", name))
    wait_or_report(current, job_id, wait, "Deleting")


@service.command("get")
@name_argument("service")
@click.pass_context
def service_get(ctx: click.Context, name: str) -> None:
    """Shows every service matching [ENVIRONMENT:]NAME."""
    current = state(ctx)
    ids = current.resolver.resolve_some("service", name)
    current.printer.services([current.client.get_service(service_id) for service_id in ids])


@service.command("list")
@click.pass_context
def service_list(ctx: click.Context) -> None:
    """Lists the services."""
    state(ctx).printer.service_summaries(state(ctx).client.list_services())


@service.command("logs")
@name_argument("service")
@tail_option
@start_option
@end_option
@follow_option
@click.pass_context
def service_logs(ctx: click.Context, name: str, tail: int, start: str, end: str, follow_: bool) -> None:
    """The logs of the service's tasks; --follow keeps printing new lines until Ctrl-C."""
    current = state(ctx)
    service_id = current.resolver.resolve_one("service", name)
    if follow_:
        follow.logs(current, lambda **query: current.client.get_service_logs(service_id, **query), tail, start)
        return
    current.printer.logs(current.client.get_service_logs(service_id, tail or None, start or None, end or None))


@service.group("autoscaling", help="Service autoscaling (target tracking)")
def autoscaling() -> None:
    pass


@autoscaling.command("set")
@name_argument("service")
@option("--min", "min_count", type=int, required=True, help="Fewest tasks")
@option("--max", "max_count", type=int, required=True, help="Most tasks (at most 5000)")
@option("--cpu", type=float, help="Target average CPU, %")
@option("--memory", type=float, help="Target average memory, %")
@option("--requests", type=int, help="Target requests per task (needs an application load balancer)")
@option("--scale-in-cooldown", type=int, help="Seconds")
@option("--scale-out-cooldown", type=int, help="Seconds")
@click.pass_context
def autoscaling_set(
    ctx: click.Context,
    name: str,
    min_count: int,
    max_count: int,
    cpu: float | None,
    memory: float | None,
    requests: int | None,
    scale_in_cooldown: int | None,
    scale_out_cooldown: int | None,
) -> None:
    """Scales the service between --min and --max tasks to keep each given target."""
    if cpu is None and memory is None and requests is None:
        raise UsageError("Give at least one target: --cpu, --memory or --requests")
    if not 0 <= min_count <= max_count:
        raise UsageError("--min must be between 0 and --max")
    current = state(ctx)
    service_id = current.resolver.resolve_one("service", name)
    settings = models.Autoscaling(
        min_count=min_count,
        max_count=max_count,
        cpu_target=cpu,
        memory_target=memory,
        requests_per_target=requests,
        scale_in_cooldown=scale_in_cooldown,
        scale_out_cooldown=scale_out_cooldown,
    )
    current.printer.services([current.client.set_service_autoscaling(service_id, settings)])


@autoscaling.command("clear")
@name_argument("service")
@click.pass_context
def autoscaling_clear(ctx: click.Context, name: str) -> None:
    """Stops autoscaling the service (its desired count stays as it is)."""
    current = state(ctx)
    service_id = current.resolver.resolve_one("service", name)
    current.printer.services([current.client.clear_service_autoscaling(service_id)])


# --- task ------------------------------------------------------------------------------------------------------------


@click.group(help="Manage tasks")
def task() -> None:
    pass


def parse_env(values: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """`--env CONTAINER:VAR=VALUE`, split on `:` and `=` into exactly three parts, as the original did."""
    overrides: dict[str, dict[str, str]] = {}
    for value in values:
        container, _, assignment = value.partition(":")
        variable, _, setting = assignment.partition("=")
        if not container or not variable or "=" not in assignment or ":" in setting or "=" in setting:
            raise UsageError(f"Environment Variable Override format is: CONTAINER:VARIABLE=VALUE (got '{value}')")
        overrides.setdefault(container, {})[variable] = setting
    return overrides


@task.command("create")
@name_argument("environment", "ENVIRONMENT", "environment_name")
@click.argument("name", metavar="NAME")
@name_argument("deploy", "DEPLOY", "deploy_target")
@option("--copies", default="1", help="How many tasks (one job each)")
@option("--env", "env", multiple=True, help="CONTAINER:VAR=VALUE, repeatable")
@wait_option
@option(
    "--follow",
    "follow_",
    is_flag=True,
    help="With --wait: print the logs until the task stops, and exit with its essential container's exit code",
)
@click.pass_context
def task_create(
    ctx: click.Context,
    environment_name: str,
    name: str,
    deploy_target: str,
    copies: str,
    env: tuple[str, ...],
    wait: bool,
    follow_: bool,
) -> None:
    """Starts COPIES tasks of a deploy."""
    count = _int(copies)
    if count < 1:
        raise UsageError("--copies must be at least 1")
    if follow_ and not wait:
        raise UsageError("--follow needs --wait")
    overrides = parse_env(env)
    current = state(ctx)
    environment_id = current.resolver.resolve_one("environment", environment_name)
    deploy_id = current.resolver.resolve_one("deploy", deploy_target)
    job_ids = [current.client.create_task(name, environment_id, deploy_id, overrides) for _ in range(count)]
    if not wait:
        current.printer.message(JOB_MESSAGE.format(job_ids[0]))
        return
    task_ids = []
    with current.console.status("Waiting for the task to start"):
        for job_id in job_ids:
            found = current.client.wait_for_job(job_id)
            _raise_if_failed(found)
            task_ids.append(found.meta["task_id"])
    if follow_:
        ctx.exit(follow.tasks(current, task_ids))
    current.printer.tasks([current.client.get_task(task_id) for task_id in task_ids])


@task.command("delete")
@name_argument("task")
@click.pass_context
def task_delete(ctx: click.Context, name: str) -> None:
    """Stops and deletes a task."""
    current = state(ctx)
    current.client.delete_task(current.resolver.resolve_one("task", name))


@task.command("get")
@name_argument("task")
@click.pass_context
def task_get(ctx: click.Context, name: str) -> None:
    """Shows every task matching [ENVIRONMENT:]NAME that the API still lists."""
    current = state(ctx)
    ids = current.resolver.resolve_some("task", name)
    listed = {summary.task_id for summary in current.client.list_tasks()}
    current.printer.tasks([current.client.get_task(task_id) for task_id in ids if task_id in listed])


@task.command("list")
@option("--all", "all_", is_flag=True, help="Tasks without a name too")
@click.pass_context
def task_list(ctx: click.Context, all_: bool) -> None:
    """Lists the tasks."""
    tasks = state(ctx).client.list_tasks()
    state(ctx).printer.task_summaries(tasks if all_ else [t for t in tasks if t.task_name])


@task.command("logs")
@name_argument("task")
@tail_option
@start_option
@end_option
@follow_option
@click.pass_context
def task_logs(ctx: click.Context, name: str, tail: int, start: str, end: str, follow_: bool) -> None:
    """The task's container logs; --follow keeps printing until the task stops."""
    current = state(ctx)
    task_id = current.resolver.resolve_one("task", name)
    if follow_:
        follow.tasks(current, [task_id], tail=tail, start=start)
        return
    current.printer.logs(current.client.get_task_logs(task_id, tail or None, start or None, end or None))


# --- secret ----------------------------------------------------------------------------------------------------------


@click.group(help="Manage secrets (values are never printed)")
def secret() -> None:
    pass


@secret.command("set")
@click.argument("name", metavar="NAME")
@click.pass_context
def secret_set(ctx: click.Context, name: str) -> None:
    """Creates or updates a secret. Its value comes from stdin, or a prompt in a terminal: never an argument."""
    if sys.stdin.isatty():
        value = click.prompt("Value", hide_input=True, confirmation_prompt=True, err=True)
    else:
        value = sys.stdin.read()
        if value.endswith("\n"):  # `echo x | l0 secret set n` means `x`
            value = value[:-1]
    if not value:
        raise UsageError("The secret's value is empty")
    state(ctx).printer.secrets([state(ctx).client.set_secret(name, value)])


@secret.command("list")
@click.pass_context
def secret_list(ctx: click.Context) -> None:
    """Lists the secrets: names, ARNs and when they changed."""
    state(ctx).printer.secrets(state(ctx).client.list_secrets())


@secret.command("delete")
@click.argument("name", metavar="NAME")
@click.pass_context
def secret_delete(ctx: click.Context, name: str) -> None:
    """Deletes a secret (Secrets Manager keeps it for its recovery window)."""
    state(ctx).client.delete_secret(name)
    state(ctx).printer.message(f"Secret '{name}' deleted")


def register(app: click.Group) -> None:
    for group in (admin, deploy, environment, job, loadbalancer, secret, service, task):
        app.add_command(group)
