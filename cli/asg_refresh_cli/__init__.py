"""The operator CLI, ``asg-refresh``: plan, start, status, cancel, rollback, history, approve, reject.

It works against AWS (or the local server) with the operator's credentials, and is shipped to
operators on its own: it needs the shared ``asg_refresh`` package, never the Lambda layer's
deployment nor ``asg_refresh_local``. Where ``asg_refresh_local`` is installed too (a developer's
machine), ``asg-refresh demo`` and ``asg-refresh local serve`` are added to it.
"""
