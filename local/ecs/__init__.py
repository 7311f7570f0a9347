"""The ECS simulation of local mode: what the ECS agents and the ECS service scheduler do, which moto does not.

moto stores clusters, container instances, tasks and services, and places tasks, but runs nothing: no instance
joins a cluster, no container starts, exits or logs, and services get no task. This package stands in for ECS
there, one deterministic pass at a time (every second in local mode; tests call ``Agent.sync_once()`` with a
fake clock). Each pass:

1. container instances (:mod:`local.ecs.agent`): the InService/Pending instances of every environment's Auto
   Scaling group register in its cluster, with their type's CPU and memory and the agent's reserved ports; the
   instances that are gone deregister, their tasks stopped first; each carries the agent's
   ``ecs.cpu-architecture`` attribute;
   then managed scaling (:mod:`local.ecs.capacity`): in a cluster whose default strategy is a capacity provider
   with managed scaling, PROVISIONING tasks are placed, the group grows for those that still wait, busy instances
   are protected from scale-in and idle ones scale in;
2. tasks (:mod:`local.ecs.simulation`, ``sync_tasks``): a PENDING task becomes RUNNING and its containers write
   three log lines to their awslogs streams, in their ``dependsOn`` order (:mod:`local.ecs.containers`: also
   health checks and restart policies); ``sleep N`` stops N seconds later; an image whose name contains
   ``fail`` fails to start;
3. services (:mod:`local.ecs.simulation`, ``sync_services``): the PRIMARY deployment gets its desired count of
   tasks, the older deployments drain once it runs them, counts and events are updated, and the circuit breaker
   fails (and, if asked, rolls back) a rollout whose tasks keep failing to start;
4. then, outside ECS, EventBridge Scheduler's due one-time schedules fire (:mod:`local.schedules`).

For this, moto's ECS itself is patched (:mod:`local.ecs.patches`: tasks start PENDING, RunTask reports what it
could not place, services keep real counts and deployments, ...); an :class:`local.ecs.agent.Agent` applies
those patches when created.

How it differs from AWS:

- no container runs: nothing is pulled, and a task's "output" is the simulation's own log lines; a container
  exits only when its command is ``sleep N`` (code 0), ``exit C``, ``sleep N; exit C`` or the like, any other runs
  until stopped; a health check passes unless its command or the container's says ``unhealthy``;
- an image is "unpullable" when its name contains ``fail`` (a Layer0 convention, for trying failed rollouts);
- things happen on passes, not as they happen: a task placed during a pass starts on the next one;
- a container instance registers the whole memory of its instance type (AWS's agent registers somewhat less);
- placement is moto's (memory, CPU, host ports): placement strategies and constraints are kept but not
  applied;
- a rollout starts all the new deployment's tasks at once and stops all the old ones once they run:
  ``minimumHealthyPercent`` and ``maximumPercent`` are kept and described but not applied;
- no load balancer registration; containers' ``healthStatus`` comes from their ``healthCheck`` only;
- task and service state changes, which only ECS makes, are written straight into moto's ECS backend, so moto
  must run in this process (``mock_aws``, or local mode's threaded moto server); the rest goes through the
  public API.

Modules:

- :mod:`local.ecs.agent`       :class:`~local.ecs.agent.Agent`: the pass loop and the container instances
- :mod:`local.ecs.simulation`  :class:`~local.ecs.simulation.EcsSimulation`: tasks (the agents) and services
  (the service scheduler)
- :mod:`local.ecs.containers`  a task's containers: start order, exits, health checks, restart policies
- :mod:`local.ecs.capacity`    :class:`~local.ecs.capacity.ManagedScaling`: what capacity providers with managed
  scaling do (PROVISIONING tasks placed, the group grown from 0 and shrunk by idle instances only)
- :mod:`local.ecs.patches`     the ECS moto patches, and the helpers they share with the simulation
  (``ECS_LOCK``, ``run_task_placing``, ``start_deployment``, ...)

Local mode and tests only: this is not Lambda code.
"""
