"""In-memory fakes of the data-access ports (asg_refresh.dal.ports), for millisecond unit tests."""

from tests.fakes.aws import FakeAudit, FakeAws

__all__ = ["FakeAudit", "FakeAws"]
