"""Logger and metrics for the handlers. Nothing below the handlers imports this module:
logic returns what should be logged or counted.

No X-Ray SDK: Lambda's active tracing (``Tracing: Active``) records every invocation's segment
(initialization, invocation, overhead) by itself. Powertools' Tracer would add a subsegment per
AWS call, but importing aws_xray_sdk and patching botocore costs about 65 ms of CPU at every cold
start (measured in Lambda's environment, where the Tracer is on), more than the whole budget a
cold start has beyond ``import boto3`` (issue 13: at most 1.5x a bare boto3 client and call).
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="asg-refresh")
metrics = Metrics(namespace="AsgRefresh", service="asg-refresh")
