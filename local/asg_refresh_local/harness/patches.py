"""Everything the harness patches into moto, installed once per process."""

from __future__ import annotations

import importlib
import warnings

from asg_refresh_local import composite_alarms, moto_extras, moto_patches
from asg_refresh_local.harness import asl_cache, events_targets, lambda_routing, stepfunctions_patches
from asg_refresh_local.iam import moto_hooks as iam_hooks


def install_emulation() -> None:
    """Install the instance-refresh emulation; a clear error while it does not exist yet."""
    try:
        emulation = importlib.import_module("asg_refresh_local.emulation")
        install = emulation.install
    except (ImportError, AttributeError) as exc:
        raise RuntimeError(
            "asg_refresh_local.emulation.install is not available yet: the instance-refresh "
            "emulation has not landed. Pass emulation=False to run without it."
        ) from exc
    install()


def install_all(*, emulation: bool = True) -> None:
    """Lambda routing, EventBridge/SNS delivery, Step Functions fixes and (optionally) the emulation."""
    lambda_routing.install()
    events_targets.install()
    stepfunctions_patches.install()
    asl_cache.install()
    iam_hooks.install()
    moto_extras.install_ec2_extras()
    composite_alarms.install()
    _virtual_time_for_handlers()
    if emulation:
        install_emulation()
    # Every patch must still be in place; a moto other than the one they were read against warns.
    for warning in moto_patches.verify():
        warnings.warn(warning, stacklevel=2)


def _virtual_time_for_handlers() -> None:
    """Handlers run in this process: their notion of now (time windows, audit) is the clock's."""
    from asg_refresh import timeutil
    from asg_refresh_local.clock import CLOCK

    timeutil.now = CLOCK.now
