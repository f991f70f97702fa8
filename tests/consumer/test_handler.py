"""The Lambda handler end to end: every trigger shape against moto over HTTP, with the real
rule engine and a recording sink."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable
from typing import Any

import pytest

from ctrules.aws.handler import ProcessingFailed, event_kind, handle
from ctrules.aws.runtime import Runtime
from tests.consumer.support import (
    EXPECTED,
    EXPECTED_TOTAL,
    RULES,
    SAMPLE_KEY,
    FailingSink,
    RecordingSink,
    event,
    log_file,
    log_records,
)

MakeRuntime = Callable[..., Runtime]
RULES_TEXT = RULES.read_text()

S3_SHAPES = [
    ("s3_notification.json", "s3"),
    ("sns_s3_notification.json", "sns"),
    ("sns_cloudtrail_notification.json", "sns"),
    ("sqs_s3_notification.json", "sqs"),
    ("sqs_sns_s3_notification.json", "sqs"),
    ("eventbridge_object_created.json", "eventbridge"),
]


@pytest.mark.parametrize(("name", "kind"), S3_SHAPES)
def test_every_s3_announcement_reads_the_file(
    name: str, kind: str, s3: Any, bucket: str, sink: RecordingSink, make_runtime: MakeRuntime
) -> None:
    s3.put_object(Bucket=bucket, Key=SAMPLE_KEY, Body=log_file())  # the real key has a space
    payload = event(name, bucket)
    assert event_kind(payload) == kind
    result = handle(make_runtime(sink), payload)
    if kind == "sqs":
        assert result == {"batchItemFailures": []}
    else:
        assert result is None
    assert sink.by_rule() == EXPECTED
    assert all(not a.ignored for a in sink.alerts)


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("eventbridge_api_call.json", "trail_changed"),
        ("eventbridge_console_signin.json", "console_login"),
    ],
)
def test_eventbridge_cloudtrail_record_directly(
    name: str, rule: str, sink: RecordingSink, make_runtime: MakeRuntime
) -> None:
    assert handle(make_runtime(sink), event(name)) is None
    assert [a.rule for a in sink.alerts] == [rule]
    assert sink.alerts[0].event_id == event(name)["detail"]["eventID"]


def test_raw_record_and_records_document(sink: RecordingSink, make_runtime: MakeRuntime) -> None:
    runtime = make_runtime(sink)
    records = log_records()
    handle(runtime, records[6])  # one AccessDenied record, as is
    handle(runtime, {"Records": records[:6]})  # two DeleteParameter
    assert sink.by_rule() == {"access_denied": 1, "parameter_deleted": 2}


def test_kinesis_cloudwatch_logs_with_control_message(
    sink: RecordingSink, make_runtime: MakeRuntime, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = event("kinesis_cloudwatch_logs.json")
    runtime = make_runtime(sink, {"CTRULES_LOG_LEVEL": "INFO"})
    capsys.readouterr()
    result = handle(runtime, payload)
    assert result == {"batchItemFailures": []}
    assert sink.by_rule() == EXPECTED
    done = [json.loads(line) for line in capsys.readouterr().err.splitlines()
            if '"invocation done"' in line]
    assert len(done) == 1
    # The subscription's CONTROL_MESSAGE is skipped and counted, not a bad record.
    assert done[0]["Skipped"] == 1 and done[0].get("BadRecords", 0) == 0


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("kinesis_eventbridge.json", {}),  # GetUser, GetUser, AssumeRole, Decrypt
        ("kinesis_raw.json", {"parameter_deleted": 2, "access_denied": 2}),
    ],
)
def test_kinesis_eventbridge_and_raw(
    name: str, expected: dict[str, int], sink: RecordingSink, make_runtime: MakeRuntime
) -> None:
    result = handle(make_runtime(sink), event(name))
    assert result == {"batchItemFailures": []}
    assert sink.by_rule() == expected


def test_digest_files_test_events_and_other_keys_are_skipped_not_failed(
    s3: Any, bucket: str, sink: RecordingSink, make_runtime: MakeRuntime, capsys: Any
) -> None:
    runtime = make_runtime(sink, {"CTRULES_METRICS_NAMESPACE": "ctrules-test"})
    assert handle(runtime, event("s3_notification_digest.json", bucket)) is None
    assert handle(runtime, event("sqs_s3_test_event.json", bucket)) == {"batchItemFailures": []}
    readme = event("s3_notification.json", bucket)
    readme["Records"][0]["s3"]["object"]["key"] = "AWSLogs/README.txt"
    assert handle(runtime, readme) is None
    assert sink.alerts == []
    emf = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"_aws"' in x]
    totals = [d for d in emf if "SkippedKeys" in d]
    assert [d["SkippedKeys"] for d in totals] == [1, 0, 1]
    assert [d["Skipped"] for d in totals] == [0, 1, 0]


def test_corrupt_record_in_the_middle_costs_only_that_record(
    s3: Any, bucket: str, sink: RecordingSink, make_runtime: MakeRuntime, capsys: Any
) -> None:
    text = json.dumps({"Records": log_records()})
    # Break the 4th record (Decrypt) without touching its neighbours' brackets.
    broken = text.replace('"eventName": "Decrypt"', '"eventName": Decrypt', 1)
    s3.put_object(Bucket=bucket, Key=SAMPLE_KEY, Body=gzip.compress(broken.encode()))
    runtime = make_runtime(sink, {"CTRULES_METRICS_NAMESPACE": "ctrules-test"})
    assert handle(runtime, event("s3_notification.json", bucket)) is None
    assert sink.by_rule() == EXPECTED
    totals = [json.loads(x) for x in capsys.readouterr().out.splitlines() if "BadRecords" in x]
    assert totals[0]["BadRecords"] == 1
    assert totals[0]["Records"] == 11


def test_truncated_gzip_keeps_what_it_can_and_reports(
    s3: Any, bucket: str, sink: RecordingSink, make_runtime: MakeRuntime, capsys: Any
) -> None:
    data = log_file()
    s3.put_object(Bucket=bucket, Key=SAMPLE_KEY, Body=data[: len(data) * 2 // 3])
    runtime = make_runtime(sink, {"CTRULES_METRICS_NAMESPACE": "ctrules-test"})
    assert handle(runtime, event("s3_notification.json", bucket)) is None
    captured = capsys.readouterr()
    totals = [json.loads(x) for x in captured.out.splitlines() if "BadRecords" in x][0]
    assert totals["BadRecords"] >= 1
    assert 0 < totals["Records"] < 12
    assert "corrupt or truncated gzip" in captured.err


def test_non_cloudtrail_json_is_a_bad_record(
    s3: Any, bucket: str, sink: RecordingSink, make_runtime: MakeRuntime, capsys: Any
) -> None:
    s3.put_object(Bucket=bucket, Key=SAMPLE_KEY, Body=gzip.compress(b'{"hello": "world"}'))
    runtime = make_runtime(sink, {"CTRULES_METRICS_NAMESPACE": "ctrules-test"})
    assert handle(runtime, event("s3_notification.json", bucket)) is None
    captured = capsys.readouterr()
    assert "not a CloudTrail log" in captured.err
    totals = [json.loads(x) for x in captured.out.splitlines() if "BadRecords" in x][0]
    assert totals["BadRecords"] == 1 and totals["Records"] == 0


def test_vanished_object_fails_the_invocation_and_the_sqs_item(
    bucket: str, sink: RecordingSink, make_runtime: MakeRuntime
) -> None:
    runtime = make_runtime(sink)
    with pytest.raises(ProcessingFailed, match="does not exist"):
        handle(runtime, event("s3_notification.json", bucket))
    result = handle(runtime, event("sqs_s3_notification.json", bucket))
    assert result == {
        "batchItemFailures": [{"itemIdentifier": "059f36b4-87a3-44ab-83d2-661975830a7d"}]
    }


def test_sqs_batch_reports_only_the_failed_message(
    s3: Any, bucket: str, make_runtime: MakeRuntime
) -> None:
    good_key = "AWSLogs/111122223333/CloudTrail/us-east-1/2023/07/10/good.json.gz"
    s3.put_object(Bucket=bucket, Key=good_key, Body=log_file(log_records()[:6]))
    s3.put_object(Bucket=bucket, Key=SAMPLE_KEY, Body=log_file())
    first = event("sqs_s3_notification.json", bucket)["Records"][0]
    second = json.loads(json.dumps(first))
    second["messageId"] = "second"
    body = json.loads(second["body"])
    body["Records"][0]["s3"]["object"]["key"] = good_key
    second["body"] = json.dumps(body)
    sink = FailingSink(fail_rules={"access_denied"})
    result = handle(make_runtime(sink), {"Records": [first, second]})
    # Only the file with AccessDenied records failed delivery; the other message is done.
    assert result == {"batchItemFailures": [{"itemIdentifier": first["messageId"]}]}
    assert sink.by_rule() == {"parameter_deleted": 4, "trail_changed": 1, "console_login": 1}


def test_unknown_sqs_message_fails_so_it_reaches_the_dlq(
    sink: RecordingSink, make_runtime: MakeRuntime
) -> None:
    payload = event("sqs_s3_notification.json")
    payload["Records"][0]["body"] = "this is not json"
    result = handle(make_runtime(sink), payload)
    assert result == {"batchItemFailures": [{"itemIdentifier": payload["Records"][0]["messageId"]}]}


def test_delivery_failure_raises_for_async_invocations(
    s3: Any, bucket: str, make_runtime: MakeRuntime
) -> None:
    s3.put_object(Bucket=bucket, Key=SAMPLE_KEY, Body=log_file())
    sink = FailingSink()
    with pytest.raises(ProcessingFailed, match="HTTP 500"):
        handle(make_runtime(sink), event("eventbridge_object_created.json", bucket))


def test_permanent_delivery_failure_is_counted_not_retried(
    s3: Any, bucket: str, make_runtime: MakeRuntime, capsys: Any
) -> None:
    s3.put_object(Bucket=bucket, Key=SAMPLE_KEY, Body=log_file())
    sink = FailingSink(fail_rules={"console_login"}, permanent=True)
    runtime = make_runtime(sink, {"CTRULES_METRICS_NAMESPACE": "ctrules-test"})
    assert handle(runtime, event("s3_notification.json", bucket)) is None
    captured = capsys.readouterr()
    assert "permanent delivery failure" in captured.err
    totals = [json.loads(x) for x in captured.out.splitlines() if "Delivered" in x][0]
    assert totals["PermanentDeliveryFailures"] == 1 and totals["Delivered"] == EXPECTED_TOTAL - 1


def test_kinesis_poison_record_is_reported_and_the_rest_processed(
    sink: RecordingSink, make_runtime: MakeRuntime, capsys: Any
) -> None:
    payload = event("kinesis_raw.json")
    poison = json.loads(json.dumps(payload["Records"][1]))
    poison["kinesis"]["sequenceNumber"] = "49590338271490256608559692538361571095921575989136609999"
    poison["kinesis"]["data"] = base64.b64encode(b'{"eventVersion": "1.08", "eventName": ').decode()
    payload["Records"].insert(2, poison)
    runtime = make_runtime(sink, {"CTRULES_METRICS_NAMESPACE": "ctrules-test"})
    assert handle(runtime, payload) == {"batchItemFailures": []}
    assert sink.by_rule() == {"parameter_deleted": 2, "access_denied": 2}
    captured = capsys.readouterr()
    assert "undecodable kinesis record" in captured.err
    assert poison["kinesis"]["sequenceNumber"] in captured.err
    assert [
        json.loads(x)["BadRecords"] for x in captured.out.splitlines() if "BadRecords" in x
    ] == [1]


def test_kinesis_delivery_failure_names_the_sequence_numbers(make_runtime: MakeRuntime) -> None:
    payload = event("kinesis_raw.json")
    sink = FailingSink(fail_rules={"access_denied"})
    result = handle(make_runtime(sink), payload)
    seqs = [r["kinesis"]["sequenceNumber"] for r in payload["Records"]]
    # records[4:8] are DeleteParameter x2 then AccessDenied x2
    assert result == {"batchItemFailures": [{"itemIdentifier": s} for s in seqs[2:]]}
    assert sink.by_rule() == {"parameter_deleted": 2}


def test_emf_metrics_per_invocation(
    s3: Any, bucket: str, sink: RecordingSink, make_runtime: MakeRuntime, capsys: Any
) -> None:
    s3.put_object(Bucket=bucket, Key=SAMPLE_KEY, Body=log_file())
    runtime = make_runtime(sink, {"CTRULES_METRICS_NAMESPACE": "ctrules-test"})
    handle(runtime, event("s3_notification.json", bucket))
    docs = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    for d in docs:
        (directive,) = d["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "ctrules-test"
        for metric in directive["Metrics"]:
            assert isinstance(d[metric["Name"]], int)
    totals = docs[0]
    assert totals["Files"] == 1 and totals["Records"] == 12
    assert totals["Matched"] == EXPECTED_TOTAL and totals["Ignored"] == 1
    assert totals["Delivered"] == EXPECTED_TOTAL and totals["FailedItems"] == 0
    by_rule = {d["Rule"]: d["Alerts"] for d in docs if "Rule" in d}
    assert by_rule == EXPECTED
    assert [(d["Ignore"], d["Suppressed"]) for d in docs if "Ignore" in d] == [("known_login", 1)]


def test_eventbridge_key_spelled_encoded_falls_back_to_the_decoded_key(
    s3: Any, bucket: str, sink: RecordingSink, make_runtime: MakeRuntime
) -> None:
    key = "trail logs/AWSLogs/111122223333/CloudTrail/us-east-1/2023/07/10/x.json.gz"
    s3.put_object(Bucket=bucket, Key=key, Body=log_file())
    payload = event("eventbridge_object_created.json", bucket)
    payload["detail"]["object"]["key"] = key.replace(" ", "+")
    assert handle(make_runtime(sink), payload) is None
    assert sink.by_rule() == EXPECTED


def test_lambda_entry_point_builds_once_and_never_caches_a_failure(
    moto_server: str, tmp_path: Any, monkeypatch: Any, capsys: Any
) -> None:
    from ctrules.aws import handler as entry

    rules = tmp_path / "rules.ctr"
    rules.write_text("rule broken {\n  when eventName = 1\n}\n")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("CTRULES_RULES", str(rules))
    monkeypatch.setenv("CTRULES_METRICS_NAMESPACE", "")
    monkeypatch.setattr(entry, "_runtime", None)
    api_call = event("eventbridge_api_call.json")
    with pytest.raises(Exception, match="CTR"):
        entry.handler(api_call, None)  # cold start fails loudly, nothing half-loaded
    assert entry._runtime is None
    rules.write_text(RULES_TEXT)  # fixed in place: the next invocation loads it
    assert entry.handler(api_call, None) is None
    first = entry._runtime
    assert entry.handler(api_call, None) is None
    assert entry._runtime is first  # warm container: built once
    out = capsys.readouterr().out
    assert sum(1 for line in out.splitlines() if '"rule":"trail_changed"' in line) == 2


@pytest.mark.parametrize("opt_in", ["true", ""])
def test_fivexl_access_denied_metrics_are_opt_in(
    s3: Any, bucket: str, sink: RecordingSink, make_runtime: MakeRuntime, capsys: Any, opt_in: str
) -> None:
    # The old module's dashboards read TotalAccessDeniedEvents in its own namespace: every
    # record whose errorCode starts with AccessDenied, alerting or not.
    records = log_records()
    s3.put_object(Bucket=bucket, Key=SAMPLE_KEY, Body=log_file(records))
    runtime = make_runtime(
        sink, {"CTRULES_METRICS_NAMESPACE": "ctrules-test", "CTRULES_ACCESS_DENIED_METRICS": opt_in}
    )
    handle(runtime, event("s3_notification.json", bucket))
    docs = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    legacy = [d for d in docs if "AccessDenied" in d]
    if not opt_in:
        assert legacy == []
        return
    denied = sum(1 for r in records if str(r.get("errorCode", "")).startswith("AccessDenied"))
    assert denied == 3
    (doc,) = legacy  # none was ignored: no TotalIgnoredAccessDeniedEvents line
    (directive,) = doc["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "CloudTrailToSlack/AccessDeniedEvents"
    assert directive["Dimensions"] == [["AccessDenied"]]
    assert directive["Metrics"] == [{"Name": "TotalAccessDeniedEvents", "Unit": "Count"}]
    assert doc["AccessDenied"] == "AccessDeniedTotal" and doc["TotalAccessDeniedEvents"] == denied


def test_ignored_access_denied_is_counted_apart() -> None:
    from ctrules.aws.metrics import Counters

    counters = Counters()
    counters.add("AccessDenied", 5)
    counters.add("IgnoredAccessDenied", 2)
    lines = [json.loads(x) for x in counters.emf_lines("ns", now_ms=0, access_denied=True)]
    legacy = {d["AccessDenied"]: d for d in lines if "AccessDenied" in d}
    assert legacy["AccessDeniedTotal"]["TotalAccessDeniedEvents"] == 5
    assert legacy["IgnoredAccessDeniedTotal"]["TotalIgnoredAccessDeniedEvents"] == 2
    assert not [d for d in (json.loads(x) for x in counters.emf_lines("ns")) if "AccessDenied" in d]


def test_stateful_rules_read_lazily_from_s3_match_the_records_given_whole(
    s3: Any, bucket: str, make_runtime: MakeRuntime
) -> None:
    # An S3 object goes through the lazy reader: records only the stateful rules' selection
    # may match come decoded in part (`Deferred`) and whole only for the alert that shows
    # them. The same records handed over whole (a Records document as the event) must give
    # the same alerts, in the same order, with the same records in them.
    from ctrules.aws.processing import envelope_work
    from ctrules.ruleset import load_default_rules
    from tests.consumer.test_lazy import CORPUS

    rules = load_default_rules()
    assert rules.stateful_decls
    # (The corpus holds example envelopes too — Kinesis records, S3 notifications — which a
    # Records document given as the event would be read as.)
    records = [r for r in CORPUS if envelope_work({"Records": [r]}, "x")[0] == [r]]
    assert len(records) > len(CORPUS) * 0.9
    s3.put_object(Bucket=bucket, Key=SAMPLE_KEY, Body=gzip.compress(
        json.dumps({"Records": records}).encode()))
    lazy_sink, whole_sink = RecordingSink(), RecordingSink()
    assert handle(make_runtime(lazy_sink, rules=rules), event("s3_notification.json", bucket)) \
        is None
    assert handle(make_runtime(whole_sink, rules=rules), {"Records": records}) is None

    def seen(sink: RecordingSink) -> list[Any]:
        return [(a.rule, a.summary, a.group_key, a.state, json.dumps(a.event, sort_keys=True))
                for a in sink.alerts]

    assert seen(lazy_sink) == seen(whole_sink)
    assert any(a.state is not None for a in lazy_sink.alerts)  # stateful alerts among them
