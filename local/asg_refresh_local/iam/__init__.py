"""AWS's permissions, enforced locally: IAM and resource policies evaluated on every call.

moto evaluates no IAM condition, no resource in a policy and no queue, topic or key policy. This
package evaluates them all with an existing engine (``@cloud-copilot/iam-simulate``), against
the policies SAM and CloudFormation would create from ``template.yaml``.
"""

from asg_refresh_local.iam.enforcer import ENFORCER, AccessDenied, Enforcer
from asg_refresh_local.iam.policies import PolicySet, Principal, build_policy_set

__all__ = ["ENFORCER", "AccessDenied", "Enforcer", "PolicySet", "Principal", "build_policy_set"]
