"""Deployment — security hygiene of the Terraform module, checked statically.

Independent of checkov (test_checkov.py): least-privilege IAM (no wildcard actions, `*`
resources only where AWS offers nothing narrower), encryption at rest on every queue, table and
log group, refusal of plain-HTTP queue access, and the failure paths (dead-letter queue, partial
batch responses) that keep a failed file from being lost or silently acknowledged.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from .tf import MODULE, ROOT, nested, tf_files, typed_blocks

RESOURCES = [(rtype, name, body) for _, rtype, name, body in typed_blocks(MODULE, "resource")]
POLICY_DOCS = [
    (name, body)
    for _, rtype, name, body in typed_blocks(MODULE, "data")
    if rtype == "aws_iam_policy_document"
]
# Actions with no resource-level permissions in IAM: `*` is the only resource they accept.
RESOURCELESS_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


def _of_type(rtype: str) -> list[tuple[str, dict[str, Any]]]:
    return [(name, body) for t, name, body in RESOURCES if t == rtype]


def _statements(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return nested(doc, "statement")


def _allow(statement: dict[str, Any]) -> bool:
    return statement.get("effect", "Allow") == "Allow"


def test_policy_documents_are_found() -> None:
    names = {name for name, _ in POLICY_DOCS}
    assert {"lambda", "assume", "notifications_queue", "dlq", "s3_fanout"} <= names
    assert len(_statements(dict(POLICY_DOCS)["lambda"])) >= 10


@pytest.mark.parametrize("name", [n for n, _ in POLICY_DOCS])
def test_no_wildcard_actions_are_allowed(name: str) -> None:
    for statement in _statements(dict(POLICY_DOCS)[name]):
        if not _allow(statement):
            continue  # a Deny may be broad: that is what makes it safe
        for action in statement.get("actions", []):
            assert "*" not in action, f"{name}/{statement.get('sid')}: {action}"


@pytest.mark.parametrize("name", [n for n, _ in POLICY_DOCS])
def test_star_resources_only_for_actions_without_resource_permissions(name: str) -> None:
    for statement in _statements(dict(POLICY_DOCS)[name]):
        if not _allow(statement) or "*" not in statement.get("resources", []):
            continue
        assert set(statement["actions"]) <= RESOURCELESS_ACTIONS, statement.get("sid")


def test_every_allow_statement_is_named_and_scoped() -> None:
    for name, doc in POLICY_DOCS:
        for statement in _statements(doc):
            assert statement.get("sid"), f"{name}: a statement without sid"
            assert statement.get("resources") or name == "assume", statement["sid"]


def test_lambda_reads_only_the_trail_prefix() -> None:
    (read,) = [
        s for s in _statements(dict(POLICY_DOCS)["lambda"]) if s["sid"] == "ReadCloudTrailLogFiles"
    ]
    assert read["actions"] == ["s3:GetObject"]
    assert read["resources"] == ["${local.bucket_arn}/${var.s3_notification_filter_prefix}*"]


def test_kms_decrypt_is_only_through_the_owning_service() -> None:
    for statement in _statements(dict(POLICY_DOCS)["lambda"]):
        if "kms:Decrypt" in statement["actions"]:
            conditions = {c["variable"] for c in statement.get("condition", [])}
            assert "kms:ViaService" in conditions, statement["sid"]


def test_no_metric_api_permission_is_needed() -> None:
    # Metrics are Embedded Metric Format log lines (ctrules/aws/metrics.py).
    actions = {a for s in _statements(dict(POLICY_DOCS)["lambda"]) for a in s["actions"]}
    assert not {a for a in actions if a.startswith("cloudwatch:")}
    assert "logs:CreateLogGroup" not in actions  # the module creates the group


def test_queues_are_encrypted_and_refuse_plain_http() -> None:
    queues = _of_type("aws_sqs_queue")
    assert {name for name, _ in queues} == {"dlq", "notifications"}
    for name, body in queues:
        assert body.get("sqs_managed_sse_enabled") is True or body.get("kms_master_key_id"), name
    for doc_name in ("notifications_queue", "dlq"):
        sids = {s["sid"]: s for s in _statements(dict(POLICY_DOCS)[doc_name])}
        deny = sids["DenyInsecureTransport"]
        assert deny["effect"] == "Deny"
        assert deny["condition"][0]["variable"] == "aws:SecureTransport"


def test_service_principals_are_pinned_to_their_source() -> None:
    # s3 / sns / events may send only from the trail bucket, the topic, the rule: never any
    # bucket of any account (the confused-deputy problem).
    for name, doc in POLICY_DOCS:
        for statement in _statements(doc):
            principals = statement.get("principals", [])
            services = [p for p in principals if p["type"] == "Service"]
            if not services or name == "assume":
                continue
            variables = {c["variable"] for c in statement.get("condition", [])}
            assert "aws:SourceArn" in variables, f"{name}/{statement['sid']}"


def test_tables_are_encrypted_and_expire_items() -> None:
    tables = _of_type("aws_dynamodb_table")
    assert {name for name, _ in tables} == {"dedup", "threads", "state"}
    for name, body in tables:
        assert body["server_side_encryption"][0]["enabled"] is True, name
        assert body["ttl"][0] == {"attribute_name": "expires_at", "enabled": True}, name
        assert body["hash_key"] == "pk", name
        assert body["billing_mode"] == "PAY_PER_REQUEST", name


def test_log_group_has_retention_and_optional_key() -> None:
    ((name, group),) = _of_type("aws_cloudwatch_log_group")
    assert group["retention_in_days"] == "${var.lambda_logs_retention_in_days}"
    assert group["kms_key_id"] == "${var.logs_kms_key_arn}"
    assert group["name"] == "/aws/lambda/${var.function_name}"


def test_failures_are_never_acknowledged_silently() -> None:
    ((_, function),) = _of_type("aws_lambda_function")
    assert function["dead_letter_config"][0]["target_arn"] == "${aws_sqs_queue.dlq.arn}"
    mappings = dict(_of_type("aws_lambda_event_source_mapping"))
    for name in ("sqs", "kinesis"):
        assert mappings[name]["function_response_types"] == ["ReportBatchItemFailures"], name
    assert mappings["kinesis"]["bisect_batch_on_function_error"] is True
    on_failure = mappings["kinesis"]["destination_config"][0]["on_failure"][0]
    assert on_failure["destination_arn"] == "${aws_sqs_queue.dlq.arn}"
    notifications = dict(_of_type("aws_sqs_queue"))["notifications"]
    assert "deadLetterTargetArn" in notifications["redrive_policy"]
    target = dict(_of_type("aws_cloudwatch_event_target"))["lambda"]
    assert target["dead_letter_config"][0]["arn"] == "${aws_sqs_queue.dlq.arn}"


def test_visibility_timeout_outlasts_the_function() -> None:
    notifications = dict(_of_type("aws_sqs_queue"))["notifications"]
    assert notifications["visibility_timeout_seconds"] == "${6 * var.lambda_timeout_seconds}"


def test_alarms_cover_errors_dlq_and_lag() -> None:
    alarms = dict(_of_type("aws_cloudwatch_metric_alarm"))
    assert {"errors", "dlq", "queue_age", "iterator_age", "permanent_delivery_failures"} <= set(
        alarms
    )
    for name, alarm in alarms.items():
        assert alarm["alarm_actions"] == "${var.alarm_actions}", name
        assert alarm["treat_missing_data"] == "notBreaching", name


def test_every_taggable_resource_is_tagged() -> None:
    untaggable = {
        "aws_iam_role_policy",
        "aws_sqs_queue_policy",
        "aws_sns_topic_policy",
        "aws_sns_topic_subscription",
        "aws_s3_bucket_notification",
        "aws_lambda_event_source_mapping",
        "aws_lambda_permission",
        "aws_lambda_function_event_invoke_config",
        "aws_lambda_layer_version",
        "aws_cloudwatch_event_target",
        "terraform_data",  # Terraform's own: nothing in AWS
    }
    for rtype, name, body in RESOURCES:
        if rtype not in untaggable:
            assert body.get("tags") == "${var.tags}", f"{rtype}.{name}"


_SKIP = re.compile(r"#checkov:skip=(CKV2?_[A-Z0-9]+_\d+)(?::(.*))?")


def _skips() -> list[tuple[Path, str, str]]:
    found = []
    for path in tf_files(MODULE):
        for line in path.read_text(encoding="utf-8").splitlines():
            match = _SKIP.search(line)
            if match:
                found.append((path, match.group(1), (match.group(2) or "").strip()))
    return found


def test_every_checkov_suppression_is_justified() -> None:
    skips = _skips()
    assert skips, "the suppressions are found"
    for path, check, reason in skips:
        assert len(reason) >= 40, f"{path.relative_to(ROOT)}: {check} needs a real justification"
