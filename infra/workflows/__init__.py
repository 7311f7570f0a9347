"""CDK for the job workflows: `construct.Workflows` deploys the state machines that layer0.workflows defines."""
