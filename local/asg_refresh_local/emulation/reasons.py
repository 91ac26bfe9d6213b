"""StatusReason and RollbackReason texts, close to AWS's meaning (its exact wording is not published)."""

REASON_WARMUP = "Waiting for instances to warm up before continuing. For example: {instance} is warming up."
REASON_CHECKPOINT = (
    "Instance refresh reached checkpoint {percentage}%. "
    "Waiting {delay} seconds (CheckpointDelay) before continuing."
)
REASON_BAKING = (
    "Waiting for the bake time of {seconds} seconds to end before completing the instance refresh."
)
REASON_PROTECTED = (
    "Waiting for instances protected from scale in to be unprotected. "
    "For example: {instance} is protected from scale in."
)
REASON_STANDBY = (
    "Waiting for instances in Standby to return to service. For example: {instance} is in Standby."
)
REASON_BLOCKED_TIMEOUT = (
    "Instance refresh failed: {what} for one hour. Set the {preference} preference to "
    "Refresh/Terminate or Ignore to proceed."
)
REASON_LAUNCH_FAILED = (
    "Instance refresh failed: instances failed to launch. See the scaling activities for details."
)
REASON_LAUNCH_ABANDONED = (
    "Instance refresh failed: instances failed to launch. {instance} failed to complete a lifecycle "
    "action: it was abandoned. See the scaling activities for details."
)
REASON_UNHEALTHY = "Instance refresh failed: {instance} failed its health checks after launch."
REASON_ALARM = "Instance refresh failed: CloudWatch alarm(s) {alarms} in ALARM state."
REASON_CANCELLED = "Cancelled due to user request."
REASON_ROLLBACK_LAUNCH_FAILED = (
    "Rollback failed: instances failed to launch. See the scaling activities for details."
)
ROLLBACK_MANUAL = "Rollback initiated by user request."
ROLLBACK_AUTO = "Automatic rollback: {reason}"
