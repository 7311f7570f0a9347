"""Layer0's jobs as Step Functions workflows: one module per job type, holding its steps and its state machine.

- `asl`: the building blocks of the state machines (plain data);
- `frame`: what every job machine shares: the status steps and the Catch around the job type's own states;
- `delete_environment`, `delete_service`, `delete_load_balancer`, `create_task`, `rollout`: one job type each;
- `registry`: every machine and every step, for the step handler, CDK and local mode.

See docs/architecture.md#the-job-path.
"""
