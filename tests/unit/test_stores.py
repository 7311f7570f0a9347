"""The tag and job stores (docs/compatibility.md#tables), checked against the tables themselves: the original Layer0
schemas."""

from __future__ import annotations

import threading
import time
import types

import pytest
from botocore.exceptions import ClientError

from layer0 import aws, settings
from layer0.errors import ErrorCode, Layer0Error
from layer0.models import Job, Tag
from layer0.stores import jobs as job_store
from layer0.stores import tags as tag_store
from tests.conftest import setup_client

SIX_HOURS = 6 * 3600


def tag_item(entity_type: str, entity_id: str) -> dict | None:
    """The raw tag item, read straight from DynamoDB."""
    return (
        setup_client("dynamodb")
        .get_item(
            TableName=settings.get().tag_table,
            Key={"EntityType": {"S": entity_type}, "EntityID": {"S": entity_id}},
            ConsistentRead=True,
        )
        .get("Item")
    )


def job_item(job_id: str) -> dict | None:
    return (
        setup_client("dynamodb")
        .get_item(TableName=settings.get().job_table, Key={"JobID": {"S": job_id}}, ConsistentRead=True)
        .get("Item")
    )


def insert(entity_type: str, entity_id: str, key: str, value: str) -> None:
    tag_store.insert(Tag(entity_type=entity_type, entity_id=entity_id, key=key, value=value))


@pytest.fixture
def dynamodb_calls(stack):
    """Every DynamoDB call the stores make through the shared client, as (operation, params)."""
    calls: list[tuple[str, dict]] = []

    def record(params, model, **_kwargs):
        calls.append((model.name, dict(params)))

    events = aws.client("dynamodb").meta.events
    events.register("provide-client-params.dynamodb.*", record, unique_id="test_stores.record")
    yield calls
    events.unregister("provide-client-params.dynamodb.*", unique_id="test_stores.record")


# --- tag store: schema -------------------------------------------------------------------------------


def test_insert_creates_the_item_with_the_layer0_schema(stack):
    insert("environment", "envabc123456", "name", "prod")
    assert tag_item("environment", "envabc123456") == {
        "EntityType": {"S": "environment"},
        "EntityID": {"S": "envabc123456"},
        "Tags": {"M": {"name": {"S": "prod"}}},
    }


def test_a_second_key_is_added_to_the_same_item(stack):
    insert("service", "svc1", "name", "web")
    insert("service", "svc1", "environment_id", "env1")
    assert tag_item("service", "svc1")["Tags"] == {
        "M": {"name": {"S": "web"}, "environment_id": {"S": "env1"}}
    }


def test_the_same_key_twice_keeps_one_value_the_last(stack):
    insert("environment", "env1", "link", "env2")
    insert("environment", "env1", "link", "env3")
    assert tag_item("environment", "env1")["Tags"] == {"M": {"link": {"S": "env3"}}}
    assert tag_store.select_by_type_and_id("environment", "env1") == [
        Tag(entity_type="environment", entity_id="env1", key="link", value="env3")
    ]


# --- tag store: TTL ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entity_type", "entity_id"),
    [("task", "task12345678"), ("job", "job123456789"), ("deploy", "job.envabc123456")],
)
def test_short_lived_entities_expire_six_hours_after_their_first_tag(stack, entity_type, entity_id):
    before = int(time.time())
    insert(entity_type, entity_id, "name", "x")
    after = int(time.time())
    ttl = int(tag_item(entity_type, entity_id)["TimeToExist"]["N"])
    assert before + SIX_HOURS <= ttl <= after + SIX_HOURS


@pytest.mark.parametrize(
    ("entity_type", "entity_id"),
    [
        ("environment", "envabc123456"),
        ("service", "svcabc123456"),
        ("load_balancer", "lbabc1234567"),
        ("deploy", "guestbook.1"),
        ("deploy", "jobs.1"),  # a deploy *named* "jobs" is a user's deploy, not a job's
    ],
)
def test_long_lived_entities_never_expire(stack, entity_type, entity_id):
    insert(entity_type, entity_id, "name", "x")
    insert(entity_type, entity_id, "other", "y")
    assert "TimeToExist" not in tag_item(entity_type, entity_id)


def test_a_later_insert_does_not_move_the_expiry(stack, monkeypatch):
    insert("task", "task12345678", "name", "first")
    ttl = tag_item("task", "task12345678")["TimeToExist"]

    # Two hours later, another tag on the same task.
    later = time.time() + 7200
    monkeypatch.setattr(tag_store, "time", types.SimpleNamespace(time=lambda: later))
    insert("task", "task12345678", "deploy_id", "alpine.1")
    insert("task", "task12345678", "name", "second")

    item = tag_item("task", "task12345678")
    assert item["TimeToExist"] == ttl
    assert item["Tags"] == {"M": {"name": {"S": "second"}, "deploy_id": {"S": "alpine.1"}}}


# --- tag store: delete ---------------------------------------------------------------------------------


def test_delete_removes_one_key(stack):
    insert("service", "svc1", "name", "web")
    insert("service", "svc1", "environment_id", "env1")
    tag_store.delete("service", "svc1", "name")
    assert tag_item("service", "svc1")["Tags"] == {"M": {"environment_id": {"S": "env1"}}}


def test_deleting_the_last_key_removes_the_item(stack):
    insert("service", "svc1", "name", "web")
    insert("service", "svc1", "environment_id", "env1")
    tag_store.delete("service", "svc1", "name")
    tag_store.delete("service", "svc1", "environment_id")
    assert tag_item("service", "svc1") is None
    assert tag_store.select_by_type("service") == []


def test_deleting_a_missing_key_changes_nothing(stack):
    insert("service", "svc1", "name", "web")
    before = tag_item("service", "svc1")
    tag_store.delete("service", "svc1", "environment_id")
    assert tag_item("service", "svc1") == before


def test_deleting_from_a_missing_entity_is_a_no_op(stack):
    tag_store.delete("service", "nothere", "name")
    assert tag_item("service", "nothere") is None
    assert tag_store.select_by_type("service") == []


# --- tag store: reads ----------------------------------------------------------------------------------


def test_select_by_type_returns_the_tags_of_that_type_only(stack):
    insert("deploy", "alpine.1", "name", "alpine")
    insert("deploy", "alpine.1", "version", "1")
    insert("deploy", "guestbook.2", "name", "guestbook")
    insert("service", "svc1", "name", "alpine")

    found = tag_store.select_by_type("deploy")
    assert all(isinstance(tag, Tag) for tag in found)
    assert sorted(found, key=lambda t: (t.entity_id, t.key)) == [
        Tag(entity_type="deploy", entity_id="alpine.1", key="name", value="alpine"),
        Tag(entity_type="deploy", entity_id="alpine.1", key="version", value="1"),
        Tag(entity_type="deploy", entity_id="guestbook.2", key="name", value="guestbook"),
    ]
    assert tag_store.select_by_type("task") == []


def test_select_by_type_and_id(stack):
    insert("environment", "env1", "name", "prod")
    insert("environment", "env1", "os", "linux")
    insert("environment", "env2", "name", "dev")

    found = tag_store.select_by_type_and_id("environment", "env1")
    assert all(isinstance(tag, Tag) for tag in found)
    assert sorted(found, key=lambda t: t.key) == [
        Tag(entity_type="environment", entity_id="env1", key="name", value="prod"),
        Tag(entity_type="environment", entity_id="env1", key="os", value="linux"),
    ]
    assert tag_store.select_by_type_and_id("environment", "env3") == []
    assert tag_store.select_by_type_and_id("service", "env1") == []


def test_reads_are_consistent(dynamodb_calls):
    insert("environment", "env1", "name", "prod")
    dynamodb_calls.clear()

    tag_store.select_by_type("environment")
    tag_store.select_by_type_and_id("environment", "env1")

    operations = [operation for operation, _ in dynamodb_calls]
    assert operations == ["Query", "GetItem"]
    assert all(params.get("ConsistentRead") is True for _, params in dynamodb_calls)


def test_select_by_type_reads_every_page(stack, dynamodb_calls):
    # DynamoDB (and moto) return at most 1 MB per Query page: 12 items of ~100 KB need two pages.
    big = "x" * 100_000
    table = settings.get().tag_table
    for index in range(12):
        setup_client("dynamodb").put_item(
            TableName=table,
            Item={
                "EntityType": {"S": "deploy"},
                "EntityID": {"S": f"big.{index}"},
                "Tags": {"M": {"name": {"S": "big"}, "blob": {"S": big}}},
            },
        )

    found = tag_store.select_by_type("deploy")

    queries = [params for operation, params in dynamodb_calls if operation == "Query"]
    assert len(queries) >= 2
    assert "ExclusiveStartKey" in queries[-1]
    assert {tag.entity_id for tag in found} == {f"big.{index}" for index in range(12)}
    assert len(found) == 24


def test_concurrent_inserts_of_different_keys_all_land(stack):
    # Ten writers race to create the same new entity: one put wins, the others must fall back to
    # updating it, and no key may be lost.
    start = threading.Barrier(10)
    errors: list[BaseException] = []

    def write(index: int) -> None:
        try:
            start.wait()
            insert("task", "racetask0001", f"key{index}", f"value{index}")
        except BaseException as error:  # noqa: BLE001 - reported by the assert below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(index,)) for index in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert tag_item("task", "racetask0001")["Tags"] == {
        "M": {f"key{index}": {"S": f"value{index}"} for index in range(10)}
    }


# --- job store -----------------------------------------------------------------------------------------


def a_job(job_id: str = "a1b2c3d4e5f6", **changes) -> Job:
    fields = {
        "job_id": job_id,
        "task_id": job_id,
        "job_status": 1,
        "job_type": 1,
        "request": '{"environment_id": "envabc123456"}',
        "time_created": "2024-05-06T07:08:09.123456789Z",
        "time_to_exist": 1_714_999_999,
        "meta": {"environment_id": "envabc123456"},
    }
    return Job(**{**fields, **changes})


def test_job_round_trip_keeps_the_original_attribute_names(stack):
    job = a_job()
    job_store.insert(job)

    assert job_item("a1b2c3d4e5f6") == {
        "JobID": {"S": "a1b2c3d4e5f6"},
        "TaskID": {"S": "a1b2c3d4e5f6"},
        "JobStatus": {"N": "1"},
        "JobType": {"N": "1"},
        "Request": {"S": '{"environment_id": "envabc123456"}'},
        "TimeCreated": {"S": "2024-05-06T07:08:09.123456789Z"},
        "TimeToExist": {"N": "1714999999"},
        "Meta": {"M": {"environment_id": {"S": "envabc123456"}}},
    }
    assert job_store.get("a1b2c3d4e5f6") == job


def test_a_job_id_cannot_be_inserted_twice(stack):
    job_store.insert(a_job())
    with pytest.raises(ClientError) as raised:
        job_store.insert(a_job(job_status=4, request="{}"))
    assert raised.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert job_store.get("a1b2c3d4e5f6") == a_job()


def test_getting_a_missing_job_is_job_does_not_exist(stack):
    with pytest.raises(Layer0Error) as raised:
        job_store.get("000000000000")
    assert raised.value.code == ErrorCode.JobDoesNotExist == 25
    assert raised.value.status == 404
    assert "000000000000" in raised.value.message


def test_list_all_returns_every_job(stack):
    jobs = [a_job(f"job{index:09d}") for index in range(5)]
    for job in jobs:
        job_store.insert(job)
    assert sorted(job_store.list_all(), key=lambda j: j.job_id) == jobs


def test_list_all_of_no_jobs_is_empty(stack):
    assert job_store.list_all() == []


def test_set_status_and_set_meta(stack):
    job_store.insert(a_job())
    job_store.set_status("a1b2c3d4e5f6", 3)
    job_store.set_meta("a1b2c3d4e5f6", {"task_id": "task12345678"})

    item = job_item("a1b2c3d4e5f6")
    assert item["JobStatus"] == {"N": "3"}
    # The whole map is replaced, as the original does.
    assert item["Meta"] == {"M": {"task_id": {"S": "task12345678"}}}
    assert job_store.get("a1b2c3d4e5f6") == a_job(job_status=3, meta={"task_id": "task12345678"})


@pytest.mark.parametrize(
    "update",
    [lambda: job_store.set_status("000000000000", 3), lambda: job_store.set_meta("000000000000", {"a": "b"})],
    ids=["set_status", "set_meta"],
)
def test_updating_a_missing_job_is_job_does_not_exist_and_creates_nothing(stack, update):
    with pytest.raises(Layer0Error) as raised:
        update()
    assert raised.value.code == ErrorCode.JobDoesNotExist
    assert raised.value.status == 404
    assert job_item("000000000000") is None


def test_delete_removes_the_job(stack):
    job_store.insert(a_job("keep00000000"))
    job_store.insert(a_job("gone00000000"))
    job_store.delete("gone00000000")
    assert job_item("gone00000000") is None
    assert [job.job_id for job in job_store.list_all()] == ["keep00000000"]
    with pytest.raises(Layer0Error):
        job_store.get("gone00000000")
