"""A load-balancer request, checked and resolved before anything is created (docs/compatibility.md#load-balancers, issue
5 part 5).

Everything here reads only (IAM and ACM for certificates, EC2 for subnets); a bad input is a 400 with a
clear message, so a failed create leaves nothing behind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from botocore.exceptions import ClientError

from layer0 import aws, settings
from layer0.errors import ErrorCode, Layer0Error, aws_error_code
from layer0.models import HealthCheck, Port

CLASSIC = "classic"
APPLICATION = "application"
TYPES = (CLASSIC, APPLICATION)

# What the l0 CLI and the Terraform provider send when the user gives nothing (docs/compatibility.md#json-fields).
DEFAULT_HEALTH_CHECK = HealthCheck(target="TCP:80", interval=30, timeout=5, healthy_threshold=2, unhealthy_threshold=2)
DEFAULT_IDLE_TIMEOUT = 60
DEFAULT_CROSS_ZONE = True

# Listener protocols each type accepts; TLS terminates at the load balancer (docs/compatibility.md#load-balancers).
PROTOCOLS = {CLASSIC: ("HTTP", "HTTPS", "TCP", "SSL"), APPLICATION: ("HTTP", "HTTPS")}
TLS_PROTOCOLS = ("HTTPS", "SSL")
INSTANCE_PROTOCOL = {"HTTP": "HTTP", "HTTPS": "HTTP", "TCP": "TCP", "SSL": "TCP"}

# AWS's limits (ELB ConfigureHealthCheck, ELBv2 target groups, idle timeouts).
HEALTH_CHECK_TIMEOUT_MAX = {CLASSIC: 60, APPLICATION: 120}
IDLE_TIMEOUT_MAX = {CLASSIC: 3600, APPLICATION: 4000}
_TARGET = re.compile(r"^(?P<protocol>TCP|SSL|HTTP|HTTPS):(?P<port>\d{1,5})(?P<path>/\S*)?$", re.IGNORECASE)


def bad_input(message: str, code: ErrorCode = ErrorCode.InvalidJSON) -> Layer0Error:
    return Layer0Error(code, message, status=400)


def load_balancer_type(requested: str) -> str:
    kind = (requested or CLASSIC).strip().lower()
    if kind not in TYPES:
        raise bad_input(f"Load balancer type '{requested}' is not valid: use 'classic' or 'application'")
    return kind


@dataclass(frozen=True)
class Listener:
    """One resolved port: protocol upper-cased, the certificate as an ARN (empty without TLS)."""

    protocol: str
    host_port: int  # the load balancer's port
    container_port: int  # the instance port: a container's hostPort
    certificate_arn: str = ""

    @property
    def instance_protocol(self) -> str:
        return INSTANCE_PROTOCOL[self.protocol]

    def port(self) -> Port:
        """The Layer0 model of this listener, as GET shows it (certificate name = last segment of the ARN)."""
        name = self.certificate_arn.rsplit("/", 1)[-1] if self.certificate_arn else ""
        return Port(
            protocol=self.protocol.lower(),
            host_port=self.host_port,
            container_port=self.container_port,
            certificate_arn=self.certificate_arn,
            certificate_name=name,
        )


# --- certificates ---------------------------------------------------------------------------------------------------


def _server_certificate_arns() -> dict[str, str]:
    """IAM server certificates by name, every page (the original read only the first)."""
    pages = aws.client("iam").get_paginator("list_server_certificates").paginate()
    return {
        meta["ServerCertificateName"]: meta["Arn"] for page in pages for meta in page["ServerCertificateMetadataList"]
    }


def _certificate_exists(arn: str) -> bool:
    """An IAM server certificate or an ACM certificate with this ARN."""
    try:
        if ":iam::" in arn and ":server-certificate/" in arn:
            return arn in _server_certificate_arns().values()
        if ":acm:" in arn:
            aws.client("acm").describe_certificate(CertificateArn=arn)
            return True
    except ClientError as error:
        if aws_error_code(error) in ("ResourceNotFoundException", "ValidationException"):
            return False
        raise
    return False


def certificate_arn(port: Port, certificates: dict[str, str] | None = None) -> str:
    """The ARN of the port's certificate: `certificate_arn` if set (it must exist), else the IAM server
    certificate named `certificate_name` (docs/compatibility.md#load-balancers)."""
    if port.certificate_arn:
        if not _certificate_exists(port.certificate_arn):
            raise bad_input(
                f"Certificate with ARN '{port.certificate_arn}' does not exist", ErrorCode.InvalidCertificateID
            )
        return port.certificate_arn
    if port.certificate_name:
        known = certificates if certificates is not None else _server_certificate_arns()
        if port.certificate_name not in known:
            raise bad_input(
                f"Certificate with name '{port.certificate_name}' does not exist", ErrorCode.InvalidCertificateName
            )
        return known[port.certificate_name]
    return ""


# --- ports ----------------------------------------------------------------------------------------------------------


def _check_port_number(value: int, what: str) -> None:
    if not 1 <= value <= 65535:
        raise bad_input(f"Port {what} {value} is not valid: it must be between 1 and 65535")


def listeners(kind: str, ports: list[Port]) -> list[Listener]:
    """Check and resolve every port (protocols, numbers, certificates); no AWS write happens before this."""
    resolved: list[Listener] = []
    certificates: dict[str, str] | None = None
    seen: set[int] = set()
    for port in ports:
        protocol = (port.protocol or "").upper()
        if protocol not in PROTOCOLS[kind]:
            article = "an" if kind == APPLICATION else "a"
            raise bad_input(
                f"Protocol '{port.protocol}' is not valid for {article} {kind} load balancer: use one of "
                + ", ".join(PROTOCOLS[kind])
            )
        _check_port_number(port.host_port, "host_port")
        _check_port_number(port.container_port, "container_port")
        if port.host_port in seen:
            raise bad_input(f"Port {port.host_port} is given twice: a load balancer has one listener per port")
        seen.add(port.host_port)
        arn = ""
        if protocol in TLS_PROTOCOLS:
            if not (port.certificate_arn or port.certificate_name):
                raise bad_input(
                    f"Port {port.host_port}/{protocol} needs a certificate: set certificate_name or certificate_arn"
                )
            if port.certificate_name and not port.certificate_arn and certificates is None:
                certificates = _server_certificate_arns()
            arn = certificate_arn(port, certificates)
        resolved.append(Listener(protocol, port.host_port, port.container_port, arn))
    return resolved


# --- health check and idle timeout ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    protocol: str  # upper case
    port: int
    path: str  # "" for TCP and SSL


def health_check_target(target: str) -> Target:
    match = _TARGET.match((target or "").strip())
    if not match:
        raise bad_input(
            f"Health check target '{target}' is not valid: "
            "use PROTOCOL:PORT (TCP, SSL) or PROTOCOL:PORT/PATH (HTTP, HTTPS)"
        )
    protocol, path = match["protocol"].upper(), match["path"] or ""
    if protocol in ("HTTP", "HTTPS") and not path:
        raise bad_input(f"Health check target '{target}' needs a path, e.g. {protocol}:{match['port']}/")
    if protocol in ("TCP", "SSL") and path:
        raise bad_input(f"Health check target '{target}' cannot have a path with {protocol}")
    port = int(match["port"])
    _check_port_number(port, "of the health check target")
    return Target(protocol, port, path)


def health_check(kind: str, check: HealthCheck) -> HealthCheck:
    """The health check, normalised (target upper-cased protocol), or 400 if AWS would refuse it."""
    target = health_check_target(check.target)
    limits = (
        ("interval", check.interval, 5, 300),
        ("timeout", check.timeout, 2, HEALTH_CHECK_TIMEOUT_MAX[kind]),
        ("healthy_threshold", check.healthy_threshold, 2, 10),
        ("unhealthy_threshold", check.unhealthy_threshold, 2, 10),
    )
    for field, value, low, high in limits:
        if not low <= value <= high:
            raise bad_input(f"Health check {field} {value} is not valid: it must be between {low} and {high}")
    if check.timeout >= check.interval:
        raise bad_input(f"Health check timeout {check.timeout} must be less than its interval {check.interval}")
    text = f"{target.protocol}:{target.port}{target.path}"
    return check.model_copy(update={"target": text})


def idle_timeout(kind: str, seconds: int) -> int:
    high = IDLE_TIMEOUT_MAX[kind]
    if not 1 <= seconds <= high:
        raise bad_input(f"Idle timeout {seconds} is not valid: it must be between 1 and {high} seconds")
    return seconds


# --- subnets --------------------------------------------------------------------------------------------------------


def subnets(kind: str, is_public: bool) -> list[str]:
    """The configured public or private subnets, at most one per availability zone (docs/compatibility.md#load-balancers
    step 7); an
    application load balancer needs two zones at least."""
    config = settings.get()
    tier = "Public" if is_public else "Private"
    chosen = list(config.public_subnets if is_public else config.private_subnets)
    if not chosen:
        raise bad_input(f"No {tier.lower()} subnets are configured for load balancers")
    described = aws.client("ec2").describe_subnets(SubnetIds=chosen)["Subnets"]
    zones: dict[str, str] = {}
    for subnet in described:
        zone = subnet["AvailabilityZone"]
        if zone in zones:
            raise bad_input(
                f"{tier} subnets {zones[zone]} and {subnet['SubnetId']} overlap in availability zone {zone}: "
                "a load balancer takes one subnet per zone"
            )
        zones[zone] = subnet["SubnetId"]
    if kind == APPLICATION and len(zones) < 2:
        raise bad_input(f"An application load balancer needs {tier.lower()} subnets in two availability zones at least")
    return chosen
