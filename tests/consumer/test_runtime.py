"""Runtime pieces against moto: configuration, rule loading (bundled, path, s3://, broken),
secrets from SSM / Secrets Manager, the dedup table, and the real Slack sink end to end."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

import ctrules
from ctrules.alerts import Alert
from ctrules.aws.config import ENVIRONMENT, Config, ConfigError
from ctrules.aws.dedup import DedupTable
from ctrules.aws.handler import handle
from ctrules.aws.rulesource import RulesNotFound, load_ruleset
from ctrules.aws.runtime import Clients, Runtime
from ctrules.aws.secrets import SecretError, SecretResolver
from tests.consumer.support import (
    EXPECTED,
    EXPECTED_TOTAL,
    RULES,
    SAMPLE_KEY,
    FailingSink,
    RecordingSink,
    event,
    log_file,
)
from tests.support.moto_server import aws_client, unique
from tests.support.slack_server import SlackServer, slack_server  # noqa: F401

MakeRuntime = Callable[..., Runtime]


# -- configuration ---------------------------------------------------------------------------
def test_config_defaults_and_parsing() -> None:
    config = Config.from_env({})
    assert config.rules == "default" and config.dedup_table == ""
    assert config.metrics_namespace == "ctrules" and config.concurrency == 4
    config = Config.from_env(
        {
            "CTRULES_RULES": "s3://b/rules/",
            "CTRULES_METRICS_NAMESPACE": "",
            "CTRULES_S3_KEY_SUFFIXES": ".json.gz, .log",
            "CTRULES_LOG_LEVEL": "debug",
        }
    )
    assert config.metrics_namespace == "" and config.s3_key_suffixes == (".json.gz", ".log")
    assert config.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CTRULES_CONCURRENCY", "many"),
        ("CTRULES_CONCURRENCY", "0"),
        ("CTRULES_LOG_LEVEL", "LOUD"),
        ("CTRULES_DEDUP_TTL_SECONDS", "1.5"),
    ],
)
def test_bad_config_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Config.from_env({name: value})


def test_config_repr_holds_no_environment() -> None:
    config = Config.from_env({"CTRULES_SLACK_WEBHOOK_URL": "https://hooks.example/SECRET"})
    assert "SECRET" not in repr(config)


def test_aliases_reach_delivery() -> None:
    env = Config.from_env({"CTRULES_DESTINATIONS": '{"default": "C1"}'}).delivery_env()
    assert env["CTRULES_SLACK_DESTINATIONS"] == '{"default": "C1"}'
    env = Config.from_env(
        {"CTRULES_DESTINATIONS": "{}", "CTRULES_SLACK_DESTINATIONS": '{"a": "C2"}'}
    ).delivery_env()
    assert env["CTRULES_SLACK_DESTINATIONS"] == '{"a": "C2"}'


def test_every_variable_is_documented() -> None:
    from pathlib import Path

    from ctrules.aws.config import markdown_table

    doc = (Path(__file__).parents[2] / "docs" / "configuration.md").read_text()
    missing = [name for name in ENVIRONMENT if f"`{name}`" not in doc]
    assert missing == []
    # The table is generated; regenerate with `python -m ctrules.aws.config`.
    assert markdown_table() in doc


# -- rule set location -----------------------------------------------------------------------
def test_rules_bundled_local_and_s3(s3: Any, bucket: str) -> None:
    assert isinstance(load_ruleset("default"), ctrules.RuleSet)  # the shipped pack loads
    assert {r.name for r in load_ruleset(str(RULES)).rules} == set(EXPECTED)
    s3.put_object(Bucket=bucket, Key="rules/prod/consumer.ctr", Body=RULES.read_bytes())
    s3.put_object(Bucket=bucket, Key="rules/prod/README.md", Body=b"not a rule file")
    for uri in (
        f"s3://{bucket}/rules/",
        f"s3://{bucket}/rules",
        f"s3://{bucket}/rules/prod/consumer.ctr",
    ):
        assert {r.name for r in load_ruleset(uri, s3).rules} == set(EXPECTED)
    with pytest.raises(RulesNotFound):
        load_ruleset(f"s3://{bucket}/nothing-here/", s3)
    with pytest.raises(RulesNotFound):
        load_ruleset("/no/such/rules")


def test_broken_rule_set_fails_cold_start_with_diagnostics(
    tmp_path: Any, moto_server: str, capsys: Any
) -> None:
    bad = tmp_path / "bad.ctr"
    bad.write_text('rule broken {\n    severity high\n    when eventName = "StopLogging"\n}\n')
    with pytest.raises(ctrules.RuleSetError):
        Runtime.build(
            {"CTRULES_RULES": str(bad)},
            clients=Clients(endpoint_url=moto_server),
            sink=RecordingSink(),
        )
    err = capsys.readouterr().err
    lines = [json.loads(x) for x in err.splitlines() if x.startswith("{")]
    diag = [x for x in lines if x.get("file") == str(bad)]
    assert diag and diag[0]["line"] == 3 and diag[0]["level"] == "ERROR"
    assert any(x["message"] == "rule set has errors; not loading" for x in lines)


# -- secrets -----------------------------------------------------------------------------
def test_secrets_from_ssm_and_secrets_manager_are_cached(moto_server: str) -> None:
    ssm = aws_client(moto_server, "ssm")
    sm = aws_client(moto_server, "secretsmanager")
    name = "/" + unique("ctrules") + "/webhook"
    ssm.put_parameter(Name=name, Value="https://hooks.example/T0/B0/x", Type="SecureString")
    secret = unique("ctrules-token")
    arn = sm.create_secret(Name=secret, SecretString="xoxb-1-2-3")["ARN"]
    now = [1000.0]
    resolver = SecretResolver(Clients(endpoint_url=moto_server), ttl=60, clock=lambda: now[0])
    assert resolver(f"ssm:{name}") == "https://hooks.example/T0/B0/x"
    assert resolver(f"secretsmanager:{secret}") == "xoxb-1-2-3"
    assert resolver(arn) == "xoxb-1-2-3"
    assert resolver("https://not-a-reference") == "https://not-a-reference"
    assert resolver.fetches == 3
    for _ in range(5):
        resolver(f"ssm:{name}")
    assert resolver.fetches == 3  # cached per container
    ssm.put_parameter(
        Name=name, Value="https://hooks.example/rotated", Overwrite=True, Type="SecureString"
    )
    now[0] += 61
    assert resolver(f"ssm:{name}") == "https://hooks.example/rotated"
    with pytest.raises(SecretError, match="ParameterNotFound") as info:
        resolver("ssm:/does/not/exist")
    assert "hooks.example" not in str(info.value)


def test_slack_end_to_end_with_webhook_from_ssm(
    moto_server: str,
    s3: Any,
    bucket: str,
    slack_server: SlackServer,  # noqa: F811
    ruleset: Any,
    capsys: Any,
) -> None:
    ssm = aws_client(moto_server, "ssm")
    name = "/" + unique("ctrules") + "/default-hook"
    ssm.put_parameter(Name=name, Value=slack_server.webhook_url("default"), Type="SecureString")
    s3.put_object(Bucket=bucket, Key=SAMPLE_KEY, Body=log_file())
    runtime = Runtime.build(
        {
            "CTRULES_LOG_LEVEL": "WARNING",
            "CTRULES_METRICS_NAMESPACE": "",
            "CTRULES_SLACK_WEBHOOK_URL": f"ssm:{name}",
            "CTRULES_SLACK_RATE": "100",
            "CTRULES_SLACK_BURST": "100",
        },
        clients=Clients(endpoint_url=moto_server),
        ruleset=ruleset,
    )
    assert type(runtime.sink).__name__ == "SlackSink"
    assert handle(runtime, event("s3_notification.json", bucket)) is None
    posts = slack_server.posts_to("default")
    assert posts and not slack_server.violations
    text = json.dumps(posts)
    assert "UpdateTrail" in text and "AssumeRole" in text
    captured = capsys.readouterr()
    assert slack_server.webhook_url("default") not in captured.err + captured.out


# -- dedup -------------------------------------------------------------------------------
@pytest.fixture
def dedup_table(moto_server: str) -> str:
    ddb = aws_client(moto_server, "dynamodb")
    name = unique("ctrules-dedup")
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def test_dedup_makes_redelivered_files_alert_once(
    s3: Any, bucket: str, dedup_table: str, make_runtime: MakeRuntime, capsys: Any
) -> None:
    s3.put_object(Bucket=bucket, Key=SAMPLE_KEY, Body=log_file())
    sink = RecordingSink()
    env = {"CTRULES_DEDUP_TABLE": dedup_table, "CTRULES_METRICS_NAMESPACE": "t"}
    handle(make_runtime(sink, env), event("s3_notification.json", bucket))
    # The same file again (S3 retry), via another envelope and another container.
    handle(make_runtime(sink, env), event("eventbridge_object_created.json", bucket))
    assert sink.by_rule() == EXPECTED
    totals = [json.loads(x) for x in capsys.readouterr().out.splitlines() if "Duplicates" in x]
    assert [t["Duplicates"] for t in totals] == [0, EXPECTED_TOTAL]


def test_dedup_releases_claims_of_failed_deliveries(
    s3: Any, bucket: str, dedup_table: str, make_runtime: MakeRuntime
) -> None:
    s3.put_object(Bucket=bucket, Key=SAMPLE_KEY, Body=log_file())
    sink = FailingSink(fail_rules={"access_denied"})
    runtime = make_runtime(sink, {"CTRULES_DEDUP_TABLE": dedup_table})
    result = handle(runtime, event("sqs_s3_notification.json", bucket))
    assert len(result["batchItemFailures"]) == 1  # type: ignore[index]
    sink.failing = False
    assert handle(runtime, event("sqs_s3_notification.json", bucket)) == {"batchItemFailures": []}
    # Everything exactly once: the failed ones on the retry, nothing repeated.
    assert sink.by_rule() == EXPECTED
    assert len(set(sink.keys())) == len(sink.keys())


def _alert(event_id: str) -> Alert:
    return Alert(rule="r", severity="high", summary="s", event={"eventID": event_id})


def test_dedup_claim_held_by_a_live_worker_is_busy_then_reclaimable(
    moto_server: str, dedup_table: str
) -> None:
    ddb = aws_client(moto_server, "dynamodb")
    now = [10_000.0]
    dead = DedupTable(ddb, dedup_table, lease_seconds=30, clock=lambda: now[0], owner="dead")
    other = DedupTable(ddb, dedup_table, lease_seconds=30, clock=lambda: now[0], owner="other")
    assert len(dead.claim([_alert("e1"), _alert("e2")]).claimed) == 2
    dead.confirm([_alert("e2")])  # e1: claimed, worker died before delivering it
    claim = other.claim([_alert("e1"), _alert("e2"), _alert("e3")])
    assert [a.event_id for a in claim.busy] == ["e1"]  # retried later, never dropped
    assert [a.event_id for a in claim.duplicates] == ["e2"]
    assert [a.event_id for a in claim.claimed] == ["e3"]
    now[0] += 31  # the dead worker's lease expires
    assert [a.event_id for a in other.claim([_alert("e1")]).claimed] == ["e1"]
    # No event id: nothing to deduplicate on, always delivered.
    no_id = Alert(rule="r", severity="high", summary="s", event={})
    assert other.claim([no_id, no_id]).claimed == [no_id, no_id]


def test_dedup_concurrent_workers_claim_each_alert_once(moto_server: str, dedup_table: str) -> None:
    ddb = aws_client(moto_server, "dynamodb")
    alerts = [_alert(f"c{i}") for i in range(20)]
    won: list[str] = []
    lock = threading.Lock()

    def worker(owner: str) -> None:
        claim = DedupTable(ddb, dedup_table, owner=owner).claim(alerts)
        with lock:
            won.extend(a.event_id or "" for a in claim.claimed)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(won) == sorted(a.event_id or "" for a in alerts)


@pytest.mark.parametrize("partition", ["aws", "aws-us-gov", "aws-cn", "aws-iso-b"])
def test_secret_arns_of_every_partition_are_references(partition: str) -> None:
    from ctrules.aws.secrets import is_secret_ref as runtime_ref
    from ctrules.delivery.factory import is_secret_ref as delivery_ref

    for arn in (
        f"arn:{partition}:ssm:us-gov-west-1:111111111111:parameter/ctrules/hook",
        f"arn:{partition}:secretsmanager:cn-north-1:111111111111:secret:bot-AbCdEf",
    ):
        assert runtime_ref(arn) and delivery_ref(arn), arn
    for value in (f"arn:{partition}:s3:::bucket", "https://hooks.slack.com/x", "arnold:ssm:x"):
        assert not runtime_ref(value) and not delivery_ref(value), value


def test_gov_cloud_ssm_arn_is_read_from_ssm(moto_server: str) -> None:
    # An SSM ARN of any partition goes to SSM, a Secrets Manager one to Secrets Manager. moto
    # keeps its parameters in the `aws` partition, so the GovCloud ARN is answered by SSM's
    # "ParameterNotFound" (Secrets Manager would say ResourceNotFoundException).
    ssm = aws_client(moto_server, "ssm")
    name = f"/ctrules/{unique('hook')}"
    ssm.put_parameter(Name=name, Value="https://hooks.example/gov", Type="SecureString")
    resolver = SecretResolver(Clients(endpoint_url=moto_server))
    assert resolver(f"arn:aws:ssm:us-east-1:123456789012:parameter{name}") == (
        "https://hooks.example/gov"
    )
    with pytest.raises(SecretError, match="ParameterNotFound"):
        resolver(f"arn:aws-us-gov:ssm:us-gov-west-1:123456789012:parameter{name}")
    with pytest.raises(SecretError, match="ResourceNotFoundException"):
        resolver("arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:missing-AbCdEf")
