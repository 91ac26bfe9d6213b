"""The audit trail of every deployment, in DynamoDB.

One item per deployment (``item = "deployment"``: trigger, image, groups started and skipped) and
one per refresh (``item = "refresh#<group>#<refresh id>"``: launch template version, watcher,
alarms, then the outcome, the failed gate and the timings when the watcher reports). The
``refresh_id`` index finds a refresh's item again (the reconciler uses it to re-attach a watcher).

One item per deployment waiting for a group (``deployment_id = "queue#<group>"``, ``item =
"queued#<deployment id>"``): the request pinned to its image and that group, the policy, the
refresh it waits behind, and how it ended (Started, Superseded, Dropped, Skipped), so a group's
waiting deployments are one consistent query.

A refresh item carries ``unfinished`` until its outcome is recorded: the sparse ``unfinished``
index holds only those, so the reconciler reads the refreshes still to look after in one query,
however long the table's history. A refresh started outside the product (by hand, say) gets a
**sighting** item (``deployment_id = "sighting#<refresh id>"``, ``item = "sighting"``) from its
lifecycle event or the reconciler's sweep, unfinished until the reconciler sees the refresh end.
The reconciler's place in its sweep of the fleet is one more item (``reconciler`` / ``sweep``).

One item per manual approval asked (``deployment_id = "approval#<approval id>"``, ``item =
"approval"``, so that an approval id alone finds it with a consistent read): the task token, the
allowed approvers, and the decision (who, when, the comment), written conditionally so that only
one decision is ever recorded. It carries ``refresh_id`` too, so the index finds a refresh's
approvals; its deployment is in ``approval_deployment_id``.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from asg_refresh import timeutil
from asg_refresh.dal import retry
from asg_refresh.dal.aws import AwsGateway
from asg_refresh.errors import AwsRequestError, AwsUnavailableError
from asg_refresh.models.approval import PendingApproval
from asg_refresh.models.deploy import DeployRequest
from asg_refresh.models.queue import QueuedDeployment
from asg_refresh.models.results import StartResult
from asg_refresh.models.watch import Outcome, WatchRecords, WindowHold

KEEP_FOR = timedelta(days=400)
REFRESH_INDEX = "by-refresh-id"
UNFINISHED_INDEX = "unfinished"
#: The ``unfinished`` attribute's one value: the index has a single, small, partition.
UNFINISHED = "refresh"
SIGHTING_ITEM = "sighting"
_SWEEP_KEY = {"deployment_id": "reconciler", "item": "sweep"}
APPROVAL_ITEM = "approval"
#: PendingApproval fields stored under another name (``deployment_id`` is the table's key).
_APPROVAL_RENAMED = {"deployment_id": "approval_deployment_id", "status": "approval_status"}
#: BatchWriteItem's limit of put requests a call.
BATCH_WRITE_LIMIT = 25
#: Calls of one batch while DynamoDB keeps handing items back as unprocessed (with back-off).
BATCH_WRITE_ATTEMPTS = 8
_serialize = TypeSerializer().serialize
_deserialize = TypeDeserializer().deserialize


def _item(values: dict[str, Any]) -> dict[str, Any]:
    plain = json.loads(json.dumps(values, default=str), parse_float=Decimal)
    return {key: _serialize(value) for key, value in plain.items() if value is not None}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    values = {key: _deserialize(value) for key, value in item.items()}
    return json.loads(json.dumps(values, default=lambda d: int(d) if d == int(d) else float(d)))


class AuditStore:
    def __init__(self, aws: AwsGateway, table_name: str) -> None:
        self.aws, self.table = aws, table_name

    def _put(self, values: dict[str, Any]) -> None:
        expires = int((timeutil.now() + KEEP_FOR).timestamp())
        self.aws.call(
            "dynamodb", "put_item", TableName=self.table, Item=_item({**values, "expires_at": expires})
        )

    def _put_all(self, items: list[dict[str, Any]]) -> None:
        """:meth:`_put` for many items, 25 a BatchWriteItem. The items it hands back unprocessed
        (throttled) are written again with back-off; any still unwritten after that are an error,
        never dropped. Only for unconditional puts: BatchWriteItem takes no condition."""
        expires = int((timeutil.now() + KEEP_FOR).timestamp())
        requests = [{"PutRequest": {"Item": _item({**values, "expires_at": expires})}} for values in items]
        for start in range(0, len(requests), BATCH_WRITE_LIMIT):
            self._write_batch(requests[start : start + BATCH_WRITE_LIMIT])

    def _write_batch(self, requests: list[dict[str, Any]]) -> None:
        pending = requests
        for delay in [*retry.backoff_delays(BATCH_WRITE_ATTEMPTS), None]:
            answer = self.aws.call("dynamodb", "batch_write_item", RequestItems={self.table: pending})
            pending = (answer.get("UnprocessedItems") or {}).get(self.table) or []
            if not pending:
                return
            if delay is not None:
                retry.sleep(delay)
        raise AwsUnavailableError(
            f"dynamodb.BatchWriteItem left {len(pending)} audit items unprocessed after "
            f"{BATCH_WRITE_ATTEMPTS} attempts",
            operation="batch_write_item",
        )

    def record_deployment(self, request: DeployRequest, result: StartResult) -> None:
        """The deployment's item and one per refresh it started, in batches (none is
        conditional: a redelivered deployment writes the same items again)."""
        self._put_all(
            [
                {
                    "deployment_id": result.id,
                    "item": "deployment",
                    "trigger": result.trigger,
                    "image_id": result.image_id,
                    "created_at": result.created_at.isoformat(),
                    "request": request.model_dump(mode="json", exclude_none=True),
                    "groups": [r.group for r in result.refreshes],
                    "skipped": [s.model_dump() for s in result.skipped],
                    "queued": [q.model_dump() for q in result.queued],
                },
                *(
                    {
                        "deployment_id": result.id,
                        "item": f"refresh#{refresh.group}#{refresh.refresh_id}",
                        **refresh.model_dump(mode="json"),
                        "started_at": result.created_at.isoformat(),
                        "status": "Started",
                        "unfinished": UNFINISHED,
                    }
                    for refresh in result.refreshes
                ),
            ]
        )

    def record_resumed(
        self,
        deployment_id: str,
        group: str,
        refresh_id: str,
        previous: str,
        watcher: str | None,
        *,
        restore: bool = False,
    ) -> None:
        """A refresh that resumes a paused one (hold or promote), or restores what earlier
        segments replaced, and the execution watching it."""
        self._put(
            {
                "deployment_id": deployment_id,
                "item": f"refresh#{group}#{refresh_id}",
                "group": group,
                "refresh_id": refresh_id,
                "restores" if restore else "resumes": previous,
                "watcher": watcher,
                "status": "Restoring" if restore else "Resumed",
                "started_at": timeutil.now().isoformat(),
                "unfinished": UNFINISHED,
            }
        )

    def record_watch(self, records: WatchRecords) -> None:
        """What one decision of the watcher leaves: the refresh that resumed, then the outcome."""
        if records.resumed is not None:
            resumed = records.resumed
            self.record_resumed(
                resumed.deployment_id,
                resumed.group,
                resumed.refresh_id,
                resumed.previous,
                resumed.watcher,
                restore=resumed.restore,
            )
        if records.hold is not None:
            self.record_hold(records.hold)
        if records.outcome is not None:
            self.record_outcome(records.outcome)

    def record_hold(self, hold: WindowHold) -> None:
        """On the refresh's item: the watcher holds it for a closed time window until ``until``
        (``holding``: what ``asg-refresh status`` shows), or no longer does."""
        if hold.holding:
            update = "SET holding = :holding"
            values: dict[str, Any] | None = _item(
                {
                    ":holding": {
                        "until": hold.until or "",
                        "reason": hold.reason or "",
                        "since": timeutil.now().isoformat(),
                    }
                }
            )
        else:
            update, values = "REMOVE holding", None
        key = {"deployment_id": hold.deployment_id, "item": f"refresh#{hold.group}#{hold.refresh_id}"}
        try:
            self.aws.call(
                "dynamodb",
                "update_item",
                TableName=self.table,
                Key=_item(key),
                UpdateExpression=update,
                # Never an item of its own: a refresh the audit table does not list goes without.
                ConditionExpression="attribute_exists(deployment_id)",
                **({"ExpressionAttributeValues": values} if values else {}),
            )
        except AwsRequestError as error:
            if error.context.get("aws_code") != "ConditionalCheckFailedException":
                raise

    def record_outcome(self, outcome: Outcome) -> None:
        """The outcome, on the refresh's item (and on its restore's, which ends with it)."""
        for refresh_id in filter(None, (outcome.refresh_id, outcome.restore_refresh_id)):
            self._record_outcome(outcome, refresh_id)

    def _record_outcome(self, outcome: Outcome, refresh_id: str) -> None:
        self.aws.call(
            "dynamodb",
            "update_item",
            TableName=self.table,
            Key=_item(
                {"deployment_id": outcome.deployment_id, "item": f"refresh#{outcome.group}#{refresh_id}"}
            ),
            # Out of the unfinished index: its watcher has reported, the reconciler need not look.
            UpdateExpression=(
                "SET #status = :status, outcome = :outcome, reported_at = :now REMOVE unfinished"
            ),
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=_item(
                {
                    ":status": outcome.status,
                    ":outcome": outcome.model_dump(mode="json"),
                    ":now": timeutil.now().isoformat(),
                }
            ),
        )

    # --- Deployments waiting for a group (README, "Newer images") -----------------------
    def queue_deployment(self, queued: QueuedDeployment) -> None:
        self._put(
            {
                "deployment_id": _queue_key(queued.group),
                "item": f"queued#{queued.request.deployment_id}",
                **queued.model_dump(mode="json", exclude_none=True),
                "status": "Queued",
                # In the unfinished index while it waits: the reconciler drains what a lost drain left.
                "unfinished": UNFINISHED,
            }
        )

    def queued_for(self, group: str) -> list[QueuedDeployment]:
        """The group's deployments still waiting, oldest first."""
        page = self.aws.call(
            "dynamodb",
            "query",
            TableName=self.table,
            ConsistentRead=True,
            KeyConditionExpression="deployment_id = :queue",
            FilterExpression="#status = :queued",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=_item({":queue": _queue_key(group), ":queued": "Queued"}),
        )
        waiting = [QueuedDeployment.model_validate(_plain(item)) for item in page.get("Items", [])]
        return sorted(waiting, key=lambda queued: queued.queued_at)

    def queued_item(self, group: str, deployment_id: str) -> dict[str, Any] | None:
        """One waiting deployment's item, however it ended (a consistent read: a wave follows it)."""
        page = self.aws.call(
            "dynamodb",
            "query",
            TableName=self.table,
            ConsistentRead=True,
            KeyConditionExpression="deployment_id = :queue AND #item = :item",
            ExpressionAttributeNames={"#item": "item"},
            ExpressionAttributeValues=_item(
                {":queue": _queue_key(group), ":item": f"queued#{deployment_id}"}
            ),
        )
        items = page.get("Items", [])
        return _plain(items[0]) if items else None

    def close_queued(self, queued: QueuedDeployment, status: str, reason: str) -> None:
        """How a waiting deployment ended: Started, Superseded, Dropped or Skipped, and why."""
        self.aws.call(
            "dynamodb",
            "update_item",
            TableName=self.table,
            Key=_item(
                {"deployment_id": _queue_key(queued.group), "item": f"queued#{queued.request.deployment_id}"}
            ),
            UpdateExpression="SET #status = :status, reason = :reason, closed_at = :now REMOVE unfinished",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=_item(
                {":status": status, ":reason": reason, ":now": timeutil.now().isoformat()}
            ),
        )

    # --- What the reconciler looks after --------------------------------------------------
    def unfinished_refreshes(self) -> list[dict[str, Any]]:
        """Every refresh item and sighting not known to have ended (the sparse index: one query
        a page of 1 MB, whatever the table's history)."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": UNFINISHED_INDEX,
            "KeyConditionExpression": "unfinished = :unfinished",
            "ExpressionAttributeValues": _item({":unfinished": UNFINISHED}),
        }
        found: list[dict[str, Any]] = []
        while True:
            page = self.aws.call("dynamodb", "query", **params)
            found += [_plain(item) for item in page.get("Items", [])]
            if not page.get("LastEvaluatedKey"):
                return found
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def record_sighting(self, group: str, refresh_id: str) -> None:
        """A refresh the product did not start, to look after until it ends (written once)."""
        try:
            self.aws.call(
                "dynamodb",
                "put_item",
                TableName=self.table,
                Item=_item(
                    {
                        "deployment_id": f"{SIGHTING_ITEM}#{refresh_id}",
                        "item": SIGHTING_ITEM,
                        "group": group,
                        "refresh_id": refresh_id,
                        "seen_at": timeutil.now().isoformat(),
                        "unfinished": UNFINISHED,
                        "expires_at": int((timeutil.now() + KEEP_FOR).timestamp()),
                    }
                ),
                ConditionExpression="attribute_not_exists(deployment_id)",
            )
        except AwsRequestError as error:
            if error.context.get("aws_code") != "ConditionalCheckFailedException":
                raise

    def mark_finished(self, item: dict[str, Any]) -> None:
        """Take a refresh item or sighting out of the unfinished index (its refresh has ended)."""
        try:
            self.aws.call(
                "dynamodb",
                "update_item",
                TableName=self.table,
                Key=_item({"deployment_id": item["deployment_id"], "item": item["item"]}),
                UpdateExpression="REMOVE unfinished",
                ConditionExpression="attribute_exists(deployment_id)",
            )
        except AwsRequestError as error:
            if error.context.get("aws_code") != "ConditionalCheckFailedException":
                raise

    def sweep_cursor(self) -> str | None:
        """Where the reconciler's sweep of the fleet goes on from (None: from the start)."""
        found = self.aws.call("dynamodb", "get_item", TableName=self.table, Key=_item(_SWEEP_KEY)).get("Item")
        token = _plain(found).get("next_token") if found else None
        return str(token) if token else None

    def record_sweep_cursor(self, token: str | None) -> None:
        self._put({**_SWEEP_KEY, "next_token": token or "", "swept_at": timeutil.now().isoformat()})

    # --- Manual approvals ----------------------------------------------------------------
    def record_approval_request(self, pending: PendingApproval) -> None:
        """Keep the pending approval (and its task token) where ``asg-refresh approve`` finds it."""
        values = {_APPROVAL_RENAMED.get(k, k): v for k, v in pending.model_dump(mode="json").items()}
        self.aws.call(
            "dynamodb",
            "put_item",
            TableName=self.table,
            Item=_item(
                {
                    **values,
                    **_approval_key(pending.approval_id),
                    "token": pending.token,
                    "expires_at": int((timeutil.now() + KEEP_FOR).timestamp()),
                }
            ),
            ConditionExpression="attribute_not_exists(deployment_id)",
        )

    def approval(self, approval_id: str) -> PendingApproval | None:
        found = self.aws.call(
            "dynamodb",
            "get_item",
            TableName=self.table,
            Key=_item(_approval_key(approval_id)),
            ConsistentRead=True,
        ).get("Item")
        return _approval_from(_plain(found)) if found else None

    def approvals_of(self, refresh_id: str) -> list[PendingApproval]:
        """Every approval a refresh asked for (the index is eventually consistent: decisions read
        the approval again with :meth:`approval` or write it conditionally)."""
        page = self.aws.call(
            "dynamodb",
            "query",
            TableName=self.table,
            IndexName=REFRESH_INDEX,
            KeyConditionExpression="refresh_id = :id",
            FilterExpression="#item = :approval",
            ExpressionAttributeNames={"#item": "item"},
            ExpressionAttributeValues=_item({":id": refresh_id, ":approval": APPROVAL_ITEM}),
        )
        return [_approval_from(_plain(item)) for item in page.get("Items", [])]

    def record_decision(self, decided: PendingApproval) -> bool:
        """Write the decision if the approval is still pending; False if another one was first."""
        try:
            self._update_approval(
                decided.approval_id,
                "SET #status = :status, decided_by = :by, decided_at = :at, display_name = :name, "
                "#comment = :comment",
                "#status = :pending",
                {
                    ":status": decided.status,
                    ":by": decided.decided_by,
                    ":at": _iso(decided.decided_at),
                    ":name": decided.display_name or "",
                    ":comment": decided.comment or "",
                    ":pending": "pending",
                },
            )
        except AwsRequestError as error:
            if error.context.get("aws_code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def expire_approval(self, decided: PendingApproval, reason: str) -> None:
        """Step Functions refused the decision: nothing waits for this approval any more."""
        self._update_approval(
            decided.approval_id,
            "SET #status = :expired, closed_reason = :reason",
            "#status = :status AND decided_at = :at",
            {
                ":expired": "expired",
                ":reason": reason,
                ":status": decided.status,
                ":at": _iso(decided.decided_at),
            },
        )

    def reopen_approval(self, decided: PendingApproval) -> None:
        """The decision was recorded but not delivered: make the approval pending again."""
        self._update_approval(
            decided.approval_id,
            "SET #status = :pending REMOVE decided_by, decided_at, display_name, #comment",
            "#status = :status AND decided_at = :at",
            {":pending": "pending", ":status": decided.status, ":at": _iso(decided.decided_at)},
        )

    def _update_approval(self, approval_id: str, update: str, condition: str, values: dict[str, Any]) -> None:
        names = {"#status": "approval_status"}
        if "#comment" in update:
            names["#comment"] = "comment"
        self.aws.call(
            "dynamodb",
            "update_item",
            TableName=self.table,
            Key=_item(_approval_key(approval_id)),
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            # Kept even when empty: an empty comment is still the comment that was given.
            ExpressionAttributeValues={k: _serialize(v) for k, v in values.items()},
        )

    def outcome_status(self, refresh_id: str) -> str | None:
        """The refresh's outcome status once its watcher reported (it has ended), else None."""
        outcome = (self.refresh(refresh_id) or {}).get("outcome")
        return str(outcome.get("status")) if isinstance(outcome, dict) else None

    def deployment(self, deployment_id: str) -> list[dict[str, Any]]:
        page = self.aws.call(
            "dynamodb",
            "query",
            TableName=self.table,
            KeyConditionExpression="deployment_id = :id",
            ExpressionAttributeValues=_item({":id": deployment_id}),
        )
        return [_plain(item) for item in page.get("Items", [])]

    def refresh(self, refresh_id: str) -> dict[str, Any] | None:
        page = self.aws.call(
            "dynamodb",
            "query",
            TableName=self.table,
            IndexName=REFRESH_INDEX,
            KeyConditionExpression="refresh_id = :id",
            # The index also holds the refresh's approvals.
            FilterExpression="begins_with(#item, :refresh)",
            ExpressionAttributeNames={"#item": "item"},
            ExpressionAttributeValues=_item({":id": refresh_id, ":refresh": "refresh#"}),
        )
        items = page.get("Items", [])
        return _plain(items[0]) if items else None

    def rollout_refreshes(self, rollout_id: str) -> list[dict[str, Any]]:
        """The refresh items of a rollout's groups (their deployment ids are ``<rollout>.<wave>.<n>``)."""
        page = self.aws.call(
            "dynamodb",
            "scan",
            TableName=self.table,
            FilterExpression="begins_with(deployment_id, :prefix) AND begins_with(#item, :refresh)",
            ExpressionAttributeNames={"#item": "item"},
            ExpressionAttributeValues=_item({":prefix": f"{rollout_id}.", ":refresh": "refresh#"}),
        )
        return sorted(
            (_plain(item) for item in page.get("Items", [])), key=lambda item: str(item.get("group"))
        )

    def recent_deployments(self, limit: int = 20) -> list[dict[str, Any]]:
        """The latest deployments (a scan: the table holds one small item per deployment and refresh)."""
        items = [
            _plain(item)
            for item in self.aws.call(
                "dynamodb",
                "scan",
                TableName=self.table,
                FilterExpression="#item = :deployment",
                ExpressionAttributeNames={"#item": "item"},
                ExpressionAttributeValues=_item({":deployment": "deployment"}),
            ).get("Items", [])
        ]
        return sorted(items, key=lambda item: item.get("created_at", ""), reverse=True)[:limit]


def _queue_key(group: str) -> str:
    return f"queue#{group}"


def _approval_key(approval_id: str) -> dict[str, str]:
    return {"deployment_id": f"approval#{approval_id}", "item": APPROVAL_ITEM}


def _approval_from(values: dict[str, Any]) -> PendingApproval:
    stored = {name: key for key, name in _APPROVAL_RENAMED.items()}
    fields = {
        stored.get(k, k): v for k, v in values.items() if k not in ("deployment_id", "item", "expires_at")
    }
    return PendingApproval.model_validate({k: v for k, v in fields.items() if v != "" or k == "comment"})


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""
