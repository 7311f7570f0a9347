"""docs/compatibility.md#ids: hashed ids."""

import re

from layer0 import ids


def test_hashed_ids_keep_seven_alphanumerics_then_hash():
    value = ids.hashed("el_public")
    assert len(value) == 12 and value.startswith("elpubli")
    assert re.fullmatch(r"[0-9a-f]{5}", value[7:])
    short = ids.hashed("t-1")
    assert short.startswith("t1") and len(short) == 12


def test_hashed_ids_differ_for_the_same_name():
    assert len({ids.hashed("test1") for _ in range(200)}) == 200


def test_job_ids_are_twelve_hex_characters():
    assert re.fullmatch(r"[0-9a-f]{12}", ids.job_id())


def test_aws_names_carry_the_prefix():
    assert ids.aws_name("test1abcdef0") == "l0-l0-test1abcdef0"
    assert ids.layer0_id("l0-l0-test1abcdef0") == "test1abcdef0"


def test_deploy_ids_map_to_task_definitions_and_back():
    assert ids.task_definition("guestbook.3") == "l0-l0-guestbook:3"
    assert ids.task_definition("guestbook") == "l0-l0-guestbook:1"
    arn = "arn:aws:ecs:us-west-2:123456789012:task-definition/l0-l0-guestbook:3"
    assert ids.deploy_id(arn) == "guestbook.3"
    assert ids.deploy_id("l0-l0-guestbook:3") == "guestbook.3"


def test_ids_do_not_depend_on_the_clock(monkeypatch):
    """Two containers (two restored from one snapshot) making an id at the same moment get different ids."""
    monkeypatch.setattr("time.time_ns", lambda: 1_700_000_000_000_000_000)
    monkeypatch.setattr("time.time", lambda: 1_700_000_000.0)
    assert len({ids.hashed("same") for _ in range(100)}) == 100
    assert len({ids.job_id() for _ in range(100)}) == 100
