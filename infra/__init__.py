"""CDK constructs of Layer0, serverless. They build from the plain data of the Lambda asset (layer0.contract,
layer0.workflows), which app.py puts on the import path."""
