"""The scaler's pure plan (docs/compatibility.md#scaler): every case of the original's table, plus the fixes of
docs/compatibility.md#differences-on-purpose-and-why."""

from layer0.scaler import DEFAULT_USED_PORTS, Consumer, Provider, plan

MB4 = 4


def desired(providers, consumers, memory=MB4, asg_min=0, asg_desired=None):
    return plan(providers, consumers, memory, asg_min, len(providers) if asg_desired is None else asg_desired).desired


# --- the original's table -------------------------------------------------------------------------------------------


def test_no_providers_and_one_consumer_needs_one():
    assert desired([], [Consumer("c", 1)]) == 1


def test_a_port_conflict_needs_a_second_provider():
    assert desired([Provider("p", 100, [80], True)], [Consumer("c", 1, (80,))]) == 2


def test_one_mb_left_and_a_two_mb_consumer_needs_a_second_provider():
    assert desired([Provider("p", 1, [], True)], [Consumer("c", 2)]) == 2


def test_one_and_two_mb_left_and_a_three_mb_consumer_needs_a_third_provider():
    assert desired([Provider("p1", 1, [], True), Provider("p2", 2, [], True)], [Consumer("c", 3)]) == 3


def test_no_consumers_keeps_the_providers_in_use():
    assert desired([Provider("p1", 1, [], True), Provider("p2", 1, [], True)], []) == 2


def test_one_unused_provider_and_no_consumers_scales_to_zero():
    result = plan([Provider("p", 4, [], False)], [], MB4, asg_min=0, asg_desired=1)
    assert result.desired == 0
    assert result.terminate == ["p"]


def test_five_providers_pack_the_ports_onto_the_ones_in_use():
    providers = [
        Provider("unused1", 4, [], False),
        Provider("unused2", 4, [], False),
        Provider("used1", 2, [8000], True),
        Provider("used2", 2, [8001], True),
        Provider("used3", 2, [8002], True),
    ]
    consumers = [Consumer("c8000", 1, (8000,)), Consumer("c8001", 1, (8001,)), Consumer("c8002", 1, (8002,))]
    result = plan(providers, consumers, MB4, asg_min=0, asg_desired=5)
    assert result.desired == 3
    assert sorted(result.terminate) == ["unused1", "unused2"]


# The original's "complex" and "ports-or-memory" tables could not be recovered; these cases are built from
# docs/compatibility.md#scaler's description, traced by hand in the comments.


def test_complex_ports_and_memory_case_needs_six():
    providers = [Provider("a", 1, [80], True), Provider("b", 2, [8080], True), Provider("c", 4, [], False)]
    consumers = [
        Consumer("1", 1, (80,)),  # a: port; b fits -> b 1 MB, ports 8080, 80
        Consumer("2", 1, (80,)),  # a, b: port; c fits -> c 3 MB, in use
        Consumer("3", 1, (80,)),  # a, b, c: port -> new n1 3 MB
        Consumer("4", 2, (8080,)),  # a, b: memory; c fits -> c 1 MB
        Consumer("5", 3),  # a, b, c: memory; n1 fits -> n1 0 MB
        Consumer("6", 4),  # nobody -> new n2 0 MB
        Consumer("7", 2, (80,)),  # nobody -> new n3
    ]
    result = plan(providers, consumers, MB4, asg_min=0, asg_desired=3)
    assert result.desired == 6
    assert result.unused == [] and result.terminate == []
    memory = {p.id: p.available_memory for p in result.providers}
    assert (memory["a"], memory["b"], memory["c"]) == (1, 1, 1)
    assert sorted(m for i, m in memory.items() if i not in "abc") == [0, 0, 2]


def test_ports_or_memory_case_needs_four():
    providers = [Provider("ports", 4, [80], True), Provider("memory", 1, [], True)]
    consumers = [
        Consumer("1", 2, (80,)),  # memory: too small; ports: port 80 -> new n1 2 MB, port 80
        Consumer("2", 2, (81,)),  # memory: too small; n1 fits -> n1 0 MB
        Consumer("3", 3, (80,)),  # memory, n1: memory; ports: port -> new n2
    ]
    assert desired(providers, consumers) == 4


def test_new_providers_start_with_the_agent_ports_used():
    result = plan([], [Consumer("ssh", 1, (22,)), Consumer("web", 1, (80,))], MB4, 0, 0)
    assert result.desired == 1 and len(result.errors) == 1
    assert "'ssh' cannot fit into an empty provider" in result.errors[0]
    [new] = result.providers
    assert new.used_ports == [*DEFAULT_USED_PORTS, 80]


def test_one_stable_order_in_use_first_then_fullest():
    providers = [Provider("free-big", 8, [], False), Provider("used-big", 3, [], True), Provider("used-small", 2, [], True)]
    result = plan(providers, [Consumer("c", 2)], MB4, 0, 3)
    placed = {p.id: p.available_memory for p in result.providers}
    assert placed == {"free-big": 8, "used-big": 3, "used-small": 0}


# --- the fixes ------------------------------------------------------------------------------------------------------


def test_never_below_the_asg_minimum():
    result = plan([Provider("p1", 4, [], False), Provider("p2", 4, [], False), Provider("p3", 4, [], False)], [], MB4, 1, 3)
    assert result.desired == 1
    assert len(result.terminate) == 2  # the third stays: the minimum is 1

    result = plan([Provider("p", 4, [], False)], [], MB4, asg_min=1, asg_desired=1)
    assert result.desired == 1 and result.terminate == []


def test_an_environment_at_zero_stays_at_zero():
    result = plan([], [], MB4, asg_min=0, asg_desired=0)
    assert (result.desired, result.terminate, result.errors) == (0, [], [])


def test_a_consumer_too_big_for_an_empty_provider_is_an_error_and_the_run_goes_on():
    result = plan([], [Consumer("huge", 8), Consumer("small", 1)], MB4, 0, 0)
    assert result.desired == 1
    assert result.errors == [
        "Resource 'huge' cannot fit into an empty provider! The instance size in your environment is too small "
        "to run this resource. Please increase the instance size for your environment"
    ]


def test_an_unknown_instance_size_is_an_error_for_what_does_not_fit():
    result = plan([Provider("p", 2, [], True)], [Consumer("fits", 1), Consumer("does-not", 4)], None, 0, 1)
    assert result.desired == 1
    assert len(result.errors) == 1 and "'does-not'" in result.errors[0]


def test_the_inputs_are_not_changed():
    providers = [Provider("p", 4, [80], False)]
    plan(providers, [Consumer("c", 1)], MB4, 0, 1)
    assert providers == [Provider("p", 4, [80], False)]


def test_terminates_no_more_than_the_difference():
    providers = [Provider(f"p{i}", 4, [], False) for i in range(3)]
    result = plan(providers, [], MB4, asg_min=0, asg_desired=2)  # one instance not registered yet
    assert result.desired == 0
    assert len(result.terminate) == 2
