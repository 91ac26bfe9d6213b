"""Settings every test tier shares: no real AWS, ever, and no X-Ray daemon to talk to."""

import os
from pathlib import Path

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
        # Two of the AMIs moto ships (Amazon's) instead of all 1,300 of the region: moto builds
        # each, with a volume and a snapshot, for every new or reset EC2 backend, which was a
        # fifth of the suite's CPU time. Read when moto's EC2 models are imported.
        "MOTO_AMIS_PATH": str(Path(__file__).parent / "moto_amis.json"),
    }
)
os.environ.pop("AWS_PROFILE", None)
