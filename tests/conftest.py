"""Settings every test tier shares: no real AWS, ever, and no X-Ray daemon to talk to."""

import os

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_DEV": "false",
        # IAM and resource policies are evaluated on every call: a missing engine fails the run.
        "ASG_REFRESH_IAM": os.environ.get("ASG_REFRESH_IAM", "required"),
    }
)
os.environ.pop("AWS_PROFILE", None)
