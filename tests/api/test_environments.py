"""`/environment` over HTTP (docs/compatibility.md#environments with
docs/compatibility.md#differences-on-purpose-and-why), checked against what lands in moto."""

from __future__ import annotations

import base64
import threading
from pathlib import Path

import pytest

from layer0 import settings
from local.resources import WINDOWS_AMI_ID
from tests.conftest import setup_client

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"  # the original Layer0's smoke-test fixtures
LINUX_AMI_PARAMETER = "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def create(api, name, **fields):
    body = {"environment_name": name, "operating_system": "linux", "instance_size": "t3.small", **fields}
    return api.post("/environment/", json=body)


def created(api, name, **fields) -> dict:
    response = create(api, name, **fields)
    assert response.status_code == 200, response.text
    return response.json()


def put(api, path, **kwargs):
    return api.request("PUT", path, **kwargs)


def aws_counts() -> dict[str, int]:
    """Every AWS resource that carries the Layer0 name prefix."""
    prefix = settings.get().aws_name_prefix
    ec2, ecs, autoscaling = setup_client("ec2"), setup_client("ecs"), setup_client("autoscaling")
    instances = [
        i
        for r in ec2.describe_instances()["Reservations"]
        for i in r["Instances"]
        if i["State"]["Name"] != "terminated"
        and any(t["Key"] == "Name" and t["Value"].startswith(prefix) for t in i.get("Tags", []))
    ]
    return {
        "clusters": sum(
            c["clusterName"].startswith(prefix) and c["status"] == "ACTIVE"
            for c in ecs.describe_clusters(clusters=ecs.list_clusters()["clusterArns"])["clusters"]
        ),
        "security_groups": sum(
            g["GroupName"].startswith(prefix) for g in ec2.describe_security_groups()["SecurityGroups"]
        ),
        "launch_templates": sum(
            t["LaunchTemplateName"].startswith(prefix) for t in ec2.describe_launch_templates()["LaunchTemplates"]
        ),
        "auto_scaling_groups": sum(
            g["AutoScalingGroupName"].startswith(prefix)
            for g in autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]
        ),
        "instances": len(instances),
    }


NOTHING = {"clusters": 0, "security_groups": 0, "launch_templates": 0, "auto_scaling_groups": 0, "instances": 0}


def security_group(environment_id: str) -> dict:
    name = f"{settings.get().aws_name_prefix}{environment_id}-env"
    [group] = setup_client("ec2").describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])[
        "SecurityGroups"
    ]
    return group


def sources(group: dict) -> set[str]:
    return {
        pair["GroupId"] for p in group["IpPermissions"] if p["IpProtocol"] == "-1" for pair in p["UserIdGroupPairs"]
    }


def launch_template(environment_id: str) -> dict:
    name = f"{settings.get().aws_name_prefix}{environment_id}"
    [version] = setup_client("ec2").describe_launch_template_versions(LaunchTemplateName=name, Versions=["$Latest"])[
        "LaunchTemplateVersions"
    ]
    return version["LaunchTemplateData"]


def auto_scaling_group(environment_id: str) -> dict:
    name = f"{settings.get().aws_name_prefix}{environment_id}"
    [group] = setup_client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
        "AutoScalingGroups"
    ]
    return group


# --- create ---------------------------------------------------------------------------------------------------------


def test_create_a_linux_environment(api):
    environment = created(api, "test1")
    environment_id = environment["environment_id"]
    ecs_id = f"l0-l0-{environment_id}"
    assert len(environment_id) == 12 and environment_id.startswith("test1")
    linux_ami = setup_client("ssm").get_parameter(Name=LINUX_AMI_PARAMETER)["Parameter"]["Value"]
    group = security_group(environment_id)
    assert environment == {
        "environment_id": environment_id,
        "environment_name": "test1",
        "cluster_count": 0,
        "instance_size": "t3.small",
        "security_group_id": group["GroupId"],
        "operating_system": "linux",
        "ami_id": linux_ami,
        "links": [],
        "environment_type": "ec2",
        "spot": False,
        "scaling": "managed",
        "architecture": "x86_64",
    }

    [cluster] = setup_client("ecs").describe_clusters(clusters=[ecs_id])["clusters"]
    assert cluster["status"] == "ACTIVE"
    assert group["VpcId"] == settings.get().vpc_id
    assert sources(group) == {group["GroupId"]}  # self-ingress, all protocols

    data = launch_template(environment_id)
    assert data["ImageId"] == linux_ami
    assert data["InstanceType"] == "t3.small"
    assert data["IamInstanceProfile"] == {"Name": settings.get().ecs_instance_profile}
    assert data["SecurityGroupIds"] == [group["GroupId"]]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    [volume] = data["BlockDeviceMappings"]
    assert volume["DeviceName"] == "/dev/xvda"
    assert (volume["Ebs"]["VolumeType"], volume["Ebs"]["VolumeSize"]) == ("gp3", 30)
    user_data = base64.b64decode(data["UserData"]).decode()
    assert f"ECS_CLUSTER={ecs_id}" in user_data
    assert f"s3://{settings.get().s3_bucket}/bootstrap/dockercfg" in user_data
    assert "{{" not in user_data

    group = auto_scaling_group(environment_id)
    assert (group["MinSize"], group["MaxSize"], group["DesiredCapacity"]) == (0, 100, 0)
    assert set(group["VPCZoneIdentifier"].split(",")) == set(settings.get().private_subnets)
    assert group["LaunchTemplate"]["LaunchTemplateName"] == ecs_id
    assert [(t["Key"], t["Value"], t["PropagateAtLaunch"]) for t in group["Tags"]] == [("Name", ecs_id, True)]


def test_create_with_the_user_data_fixture(api):
    template = (FIXTURES / "user_data.tmpl").read_text()
    environment = created(api, "test2", user_data_template=b64(template))
    ecs_id = f"l0-l0-{environment['environment_id']}"
    user_data = base64.b64decode(launch_template(environment["environment_id"])["UserData"]).decode()
    assert user_data == template.replace("{{ .ECSEnvironmentID }}", ecs_id).replace(
        "{{ .S3Bucket }}", settings.get().s3_bucket
    )
    assert f"echo ECS_CLUSTER={ecs_id} >> /etc/ecs/ecs.config" in user_data


def test_templates_tolerate_spacing_and_refuse_unknown_fields(api):
    environment = created(api, "spaced", user_data_template=b64("a={{.ECSEnvironmentID}} b={{   .S3Bucket }}"))
    user_data = base64.b64decode(launch_template(environment["environment_id"])["UserData"]).decode()
    assert user_data == f"a=l0-l0-{environment['environment_id']} b={settings.get().s3_bucket}"

    response = create(api, "unknown", user_data_template=b64("x={{ .Region }}"))
    assert response.status_code == 400
    assert response.json()["error_code"] == 1
    assert "'.Region'" in response.json()["message"]


def test_create_with_a_min_count_launches_instances_on_the_private_subnets(api):
    environment = created(api, "test3", min_cluster_count=2, scaling="layer0")
    assert environment["cluster_count"] == 2
    group = auto_scaling_group(environment["environment_id"])
    assert (group["MinSize"], group["MaxSize"], group["DesiredCapacity"]) == (2, 2, 2)
    instances = [
        i
        for r in setup_client("ec2").describe_instances(InstanceIds=[i["InstanceId"] for i in group["Instances"]])[
            "Reservations"
        ]
        for i in r["Instances"]
    ]
    assert len(instances) == 2
    assert {i["SubnetId"] for i in instances} <= set(settings.get().private_subnets)
    for instance in instances:
        assert {"Key": "Name", "Value": f"l0-l0-{environment['environment_id']}"} in instance["Tags"]


def test_create_a_windows_environment(api):
    environment = created(api, "test4", operating_system="Windows", instance_size="m5.large")
    assert environment["operating_system"] == "Windows"  # as sent, like the original
    assert environment["ami_id"] == WINDOWS_AMI_ID
    data = launch_template(environment["environment_id"])
    [volume] = data["BlockDeviceMappings"]
    assert (volume["DeviceName"], volume["Ebs"]["VolumeSize"], volume["Ebs"]["VolumeType"]) == ("/dev/sda1", 200, "gp3")
    user_data = base64.b64decode(data["UserData"]).decode()
    assert user_data.startswith("<powershell>")
    assert f"-Cluster 'l0-l0-{environment['environment_id']}'" in user_data


def test_an_explicit_ami_and_the_default_instance_size(api):
    response = api.post(
        "/environment", json={"Environment_Name": "ami", "OPERATING_SYSTEM": "linux", "ami_id": "ami-0123456789abcdef0"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["ami_id"] == "ami-0123456789abcdef0"
    assert response.json()["instance_size"] == "t3.medium"


# --- bad input: 400, and nothing created -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({"operating_system": "linux"}, 19, "Parameter 'environment_name' is required"),
        ({"environment_name": "", "operating_system": "linux"}, 19, "Parameter 'environment_name' is required"),
        ({"environment_name": "x"}, 19, "Parameter 'operating_system' is required"),
        ({"environment_name": "x", "operating_system": "plan9"}, 1, "Operating system 'plan9' is not recognized"),
        (
            {"environment_name": "x", "operating_system": "linux", "instance_size": "t9.huge"},
            1,
            "Instance size 't9.huge' is not an EC2 instance type",
        ),
        ({"environment_name": "x", "operating_system": "linux", "min_cluster_count": -1}, 1, "min_cluster_count"),
        ({"environment_name": "x", "operating_system": "linux", "user_data_template": "%%%"}, 1, "user_data_template"),
        ({"environment_name": "x", "operating_system": "linux", "min_cluster_count": 101}, 1, "min_cluster_count"),
        (
            {"environment_name": "x", "operating_system": "linux", "scaling": "ecs"},
            1,
            "Scaling 'ecs' is not recognized",
        ),
        (
            {"environment_name": "x", "operating_system": "windows", "instance_size": "m7g.large"},
            1,
            "Windows environments need an x86_64 type",
        ),
        (
            {"environment_name": "x", "operating_system": "linux", "instance_size": "t4g.huge9"},
            1,
            "Instance size 't4g.huge9' is not an EC2 instance type",
        ),
    ],
)
def test_bad_input_is_a_400_and_creates_nothing(api, body, code, message):
    response = api.post("/environment", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == code
    assert message in response.json()["message"]
    assert aws_counts() == NOTHING
    assert api.get("/tag?type=environment").json() == []
    assert api.get("/tag?type=environment_name").json() == []


def test_user_data_over_16_kb_once_rendered_is_a_400_before_aws_is_called(api, monkeypatch):
    from layer0 import aws

    bucket = "l0-l0-registry-" + "b" * 48  # a CDK-generated bucket name can be 63 characters long
    monkeypatch.setenv("LAYER0_AWS_S3_BUCKET", bucket)
    settings.get.cache_clear()
    variables = "{{.S3Bucket}}" * 2
    rendered_variables = 2 * len(bucket)
    # 16 KB exactly once rendered: accepted.
    fits = "#" * (16 * 1024 - rendered_variables) + variables
    environment = created(api, "fits", user_data_template=b64(fits))
    assert len(base64.b64decode(launch_template(environment["environment_id"])["UserData"])) == 16 * 1024
    before = aws_counts()
    # Under 16 KB as written, one byte over once the variable is rendered: refused, and AWS never asked.
    over = "#" * (16 * 1024 - rendered_variables + 1) + variables
    assert len(over) < 16 * 1024
    calls = []
    client = aws.client

    def recording(service):
        calls.append(service)
        return client(service)

    monkeypatch.setattr(aws, "client", recording)

    response = create(api, "over", user_data_template=b64(over))

    assert response.status_code == 400, response.text
    assert response.json() == {
        "error_code": 1,
        "message": "user_data_template renders to 16385 bytes: EC2 allows at most 16384 bytes of user data "
        "(16 KB, before base64 encoding)",
    }
    assert calls == []
    monkeypatch.undo()
    assert aws_counts() == before
    assert [t["entity_id"] for t in api.get("/tag?type=environment_name").json()] == ["fits"]


def test_a_duplicate_name_is_a_400_with_code_6_and_creates_nothing_more(api):
    created(api, "dup", min_cluster_count=1)
    before = aws_counts()
    response = create(api, "dup")
    assert response.status_code == 400
    assert response.json() == {"error_code": 6, "message": "Environment with name 'dup' already exists"}
    assert aws_counts() == before == {**NOTHING, "clusters": 1, "security_groups": 1, "launch_templates": 1,
                                      "auto_scaling_groups": 1, "instances": 1}  # fmt: skip


def test_a_name_from_adopted_data_without_a_claim_is_a_duplicate_too(api):
    api.post("/tag", json={"entity_type": "environment", "entity_id": "old", "key": "name", "value": "legacy"})
    response = create(api, "legacy")
    assert response.status_code == 400 and response.json()["error_code"] == 6
    assert aws_counts() == NOTHING
    assert api.get("/tag?type=environment_name").json() == []  # the claim was released


def test_concurrent_creates_of_one_name_make_one_environment(api):
    """20 parallel creates of one name (issue 6): one 200, 19 clear 400s code 6, one environment in AWS and tags."""
    results: list[tuple[int, dict]] = []
    barrier = threading.Barrier(20)

    def attempt():
        barrier.wait()
        response = create(api, "race")
        results.append((response.status_code, response.json()))

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(status for status, _ in results) == [200] + [400] * 19
    [winner] = [body for status, body in results if status == 200]
    assert all(body == {"error_code": 6, "message": "Environment with name 'race' already exists"}
               for status, body in results if status == 400)  # fmt: skip
    counts = aws_counts()
    assert counts == {**NOTHING, "clusters": 1, "security_groups": 1, "launch_templates": 1, "auto_scaling_groups": 1}
    assert [e["environment_id"] for e in api.get("/environment").json()] == [winner["environment_id"]]
    [tagged] = api.get("/tag?type=environment").json()
    assert tagged["entity_id"] == winner["environment_id"]
    assert {(t["key"], t["value"]) for t in tagged["tags"]} >= {("name", "race")}
    assert [claim["entity_id"] for claim in api.get("/tag?type=environment_name").json()] == ["race"]


def test_a_failed_create_rolls_back_everything(api, monkeypatch):
    from layer0 import environments

    def broken(*_args, **_kwargs):
        raise RuntimeError("the ASG call failed")

    real = environments._create_resources

    def half(environment_id, *args):
        # Everything but the ASG is created, then the create fails.
        monkeypatch.setattr(setup_client("autoscaling"), "create_auto_scaling_group", broken, raising=False)
        from layer0 import aws

        monkeypatch.setattr(aws.client("autoscaling"), "create_auto_scaling_group", broken)
        real(environment_id, *args)

    monkeypatch.setattr(environments, "_create_resources", half)
    response = create(api, "broken")
    assert response.status_code == 500
    assert response.json()["error_code"] == 21
    assert aws_counts() == NOTHING
    assert api.get("/tag?type=environment_name").json() == []
    monkeypatch.undo()
    assert create(api, "broken").status_code == 200  # the name is free again


# --- read -----------------------------------------------------------------------------------------------------------


def test_get_list_and_tags(api):
    first = created(api, "test1")
    second = created(api, "test2", operating_system="windows")
    assert api.get(f"/environment/{first['environment_id']}").json() == first
    assert api.get(f"/environment/{second['environment_id']}/").json() == second
    summaries = api.get("/environment/").json()
    assert sorted(summaries, key=lambda s: s["environment_name"]) == [
        {
            "environment_id": first["environment_id"],
            "environment_name": "test1",
            "operating_system": "linux",
            "environment_type": "ec2",
        },
        {
            "environment_id": second["environment_id"],
            "environment_name": "test2",
            "operating_system": "windows",
            "environment_type": "ec2",
        },
    ]
    found = api.get("/tag?type=environment&fuzz=t").json()
    assert {e["entity_id"] for e in found} == {first["environment_id"], second["environment_id"]}
    [one] = api.get("/tag?type=environment&name=test2").json()
    assert one["entity_id"] == second["environment_id"]


def test_get_an_unknown_environment_is_404_with_code_24(api):
    response = api.get("/environment/nothere12345")
    assert response.status_code == 404
    assert response.json() == {"error_code": 24, "message": "Environment 'nothere12345' does not exist"}
    assert put(api, "/environment/nothere12345", json={"min_cluster_count": 1}).status_code == 404


def test_list_makes_the_same_calls_for_one_or_many_environments(api):
    from layer0 import aws, environments

    def count_calls() -> list[str]:
        calls: list[str] = []

        def record(event_name, **_kwargs):
            calls.append(event_name.split(".", 2)[-1])

        clients = [aws.client(s) for s in ("ecs", "dynamodb", "ec2", "autoscaling")]
        for client in clients:
            client.meta.events.register("before-call", record)
        try:
            environments.list_all()
        finally:
            for client in clients:
                client.meta.events.unregister("before-call", record)
        return calls

    created(api, "one")
    one = count_calls()
    for name in ("two", "three", "four"):
        created(api, name)
    assert count_calls() == one == ["Query"]


# --- update ---------------------------------------------------------------------------------------------------------


def test_update_the_min_count_returns_the_updated_environment(api):
    environment = created(api, "test3", min_cluster_count=2, scaling="layer0")
    environment_id = environment["environment_id"]

    response = put(api, f"/environment/{environment_id}", json={"min_cluster_count": 0})
    assert response.status_code == 200, response.text
    group = auto_scaling_group(environment_id)
    assert (group["MinSize"], group["MaxSize"]) == (0, 2)

    response = put(api, f"/environment/{environment_id}/", json={"Min_Cluster_Count": 3})
    assert response.status_code == 200, response.text
    group = auto_scaling_group(environment_id)
    assert (group["MinSize"], group["MaxSize"], group["DesiredCapacity"]) == (3, 3, 3)
    assert response.json() == {**environment, "cluster_count": 3}


def test_an_absurd_min_count_is_a_400_and_changes_nothing(api):
    # Found by tests/fuzz: 1862248 reached the Auto Scaling group (moto ran out of subnet addresses: a 500).
    environment_id = created(api, "test3", min_cluster_count=2)["environment_id"]
    response = put(api, f"/environment/{environment_id}", json={"min_cluster_count": 1862248})
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == 1
    assert "min_cluster_count" in response.json()["message"]
    group = auto_scaling_group(environment_id)
    assert (group["MinSize"], group["MaxSize"], group["DesiredCapacity"]) == (2, 100, 2)


# --- links ----------------------------------------------------------------------------------------------------------


def test_link_and_unlink_keep_links_as_a_set(api):
    test3 = created(api, "test3")["environment_id"]
    test4 = created(api, "test4", operating_system="windows")["environment_id"]
    other = created(api, "other")["environment_id"]
    group3, group4, group_other = (security_group(e)["GroupId"] for e in (test3, test4, other))

    response = api.post(f"/environment/{test3}/link", json={"environment_id": test4})
    assert response.status_code == 200, response.text
    assert response.text == '""'
    assert sources(security_group(test3)) == {group3, group4}
    assert sources(security_group(test4)) == {group4, group3}
    assert api.get(f"/environment/{test3}").json()["links"] == [test4]
    assert api.get(f"/environment/{test4}").json()["links"] == [test3]

    # A second link is kept beside the first, and linking again is harmless.
    assert api.post(f"/environment/{test3}/link", json={"environment_id": other}).status_code == 200
    assert api.post(f"/environment/{test3}/link", json={"environment_id": test4}).status_code == 200
    assert api.get(f"/environment/{test3}").json()["links"] == sorted([test4, other])
    assert sources(security_group(test3)) == {group3, group4, group_other}

    # Names still resolve through /tag.
    [entity] = api.get("/tag?type=environment&name=test3").json()
    assert entity["entity_id"] == test3

    response = api.delete(f"/environment/{test3}/link/{test4}")
    assert response.status_code == 200, response.text
    assert sources(security_group(test3)) == {group3, group_other}
    assert sources(security_group(test4)) == {group4}
    assert api.get(f"/environment/{test3}").json()["links"] == [other]
    assert api.get(f"/environment/{test4}").json()["links"] == []
    # Unlinking again, or from an environment that is gone, still succeeds.
    assert api.delete(f"/environment/{test3}/link/{test4}").status_code == 200
    assert api.delete(f"/environment/{test3}/link/gone12345678").status_code == 200


def test_link_errors(api):
    test1 = created(api, "test1")["environment_id"]
    response = api.post(f"/environment/{test1}/link", json={"environment_id": "gone12345678"})
    assert response.status_code == 404
    assert response.json() == {
        "error_code": 24,
        "message": "Security group for environment 'gone12345678' does not exist",
    }
    response = api.post(f"/environment/{test1}/link", json={})
    assert (response.status_code, response.json()["error_code"]) == (400, 19)
    response = api.post(f"/environment/{test1}/link", json={"environment_id": test1})
    assert (response.status_code, response.json()["error_code"]) == (400, 6)


# --- the scaler route -----------------------------------------------------------------------------------------------


def test_admin_scale_returns_the_run_info(api):
    environment = created(api, "scaled", min_cluster_count=1, scaling="layer0")
    environment_id = environment["environment_id"]
    response = put(api, f"/admin/scale/{environment_id}", json="")
    assert response.status_code == 200, response.text
    info = response.json()
    # No container instance registered (no agent here) and no consumers: the ASG minimum holds.
    assert info == {
        "environment_id": environment_id,
        "scale_before_run": 0,
        "desired_scale_after_run": 1,
        "actual_scale_after_run": 1,
        "unused_resource_providers": 0,
        "pending_resources": [],
        "resource_providers": [],
        "errors": [],
    }
    assert put(api, "/admin/scale/nothere12345").status_code == 404


# --- capacity providers and Graviton (docs/architecture.md#capacity-providers, docs/compatibility.md#graviton-arm64)


def test_a_managed_environment_gets_a_capacity_provider_and_scales_from_its_minimum(api):
    environment = created(api, "managed", min_cluster_count=1)
    environment_id = environment["environment_id"]
    ecs_id = f"l0-l0-{environment_id}"
    assert environment["scaling"] == "managed"
    group = auto_scaling_group(environment_id)
    assert (group["MinSize"], group["DesiredCapacity"], group["MaxSize"]) == (1, 1, 100)
    assert group["NewInstancesProtectedFromScaleIn"] is True
    [provider] = setup_client("ecs").describe_capacity_providers(capacityProviders=[ecs_id])["capacityProviders"]
    assert provider["autoScalingGroupProvider"]["managedScaling"]["targetCapacity"] == 100
    [cluster] = setup_client("ecs").describe_clusters(clusters=[ecs_id])["clusters"]
    assert cluster["defaultCapacityProviderStrategy"] == [{"capacityProvider": ecs_id, "weight": 1, "base": 0}]
    # min_cluster_count stays the group's minimum.
    assert put(api, f"/environment/{environment_id}", json={"min_cluster_count": 3}).status_code == 200
    group = auto_scaling_group(environment_id)
    assert (group["MinSize"], group["DesiredCapacity"], group["MaxSize"]) == (3, 3, 100)


def test_a_layer0_scaled_environment_has_no_capacity_provider(api):
    environment = created(api, "classic", scaling="LAYER0")
    ecs_id = f"l0-l0-{environment['environment_id']}"
    assert environment["scaling"] == "layer0"
    answer = setup_client("ecs").describe_capacity_providers(capacityProviders=[ecs_id])
    assert answer["capacityProviders"] == []
    [cluster] = setup_client("ecs").describe_clusters(clusters=[ecs_id])["clusters"]
    assert not cluster.get("defaultCapacityProviderStrategy")


def test_admin_scale_of_a_managed_environment_reports_and_changes_nothing(api):
    environment_id = created(api, "reported", min_cluster_count=2)["environment_id"]
    before = auto_scaling_group(environment_id)

    response = put(api, f"/admin/scale/{environment_id}", json="")

    assert response.status_code == 200, response.text
    info = response.json()
    assert (info["scale_before_run"], info["desired_scale_after_run"], info["actual_scale_after_run"]) == (2, 2, 2)
    after = auto_scaling_group(environment_id)
    assert {k: after[k] for k in ("MinSize", "MaxSize", "DesiredCapacity")} == {
        k: before[k] for k in ("MinSize", "MaxSize", "DesiredCapacity")
    }


@pytest.mark.parametrize("instance_size", ["t4g.medium", "m7g.large", "c7g.large", "r8g.large"])
def test_a_graviton_environment_uses_the_arm64_ami(api, instance_size):
    environment = created(api, f"arm-{instance_size.split('.')[0]}", instance_size=instance_size)
    arm64_ami = setup_client("ssm").get_parameter(Name=settings.LINUX_ARM64_AMI_PARAMETER)["Parameter"]["Value"]
    x86_ami = setup_client("ssm").get_parameter(Name=LINUX_AMI_PARAMETER)["Parameter"]["Value"]
    assert arm64_ami != x86_ami
    assert environment["architecture"] == "arm64"
    assert environment["instance_size"] == instance_size
    assert environment["ami_id"] == arm64_ami == launch_template(environment["environment_id"])["ImageId"]
    got = api.get(f"/environment/{environment['environment_id']}").json()
    assert (got["architecture"], got["scaling"]) == ("arm64", "managed")


def test_windows_keeps_the_x86_64_architecture(api):
    environment = created(api, "winx86", operating_system="windows", instance_size="m5.large")
    assert environment["architecture"] == "x86_64"
