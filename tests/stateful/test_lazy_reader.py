"""Stateful rules behind the lazy reader (ctrules.sources.lazy): a record no per-event rule can
match is decoded only partly, so the stateful rules' own selection must take part in the choice
— otherwise their keys and values read fields that were never decoded and alerts go wrong or
silent. Regression for the merge of engine v2 with stateful rules."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

RULES = """\
rule trail_stopped {
    severity high
    summary  "{eventName}"
    when     eventName == "StopLogging"

    example "hit" match {"eventName": "StopLogging"}
    example "miss" no match {"eventName": "StartLogging"}
}

rule many_secrets {
    severity high
    summary  "{userIdentity.arn} read {state.distinct} secrets"
    when     eventSource == "secretsmanager.amazonaws.com" and eventName == "GetSecretValue"
    distinct requestParameters.secretId >= 3 by [userIdentity.arn] within 10m
}
"""


def _record(i: int, arn: str) -> dict[str, object]:
    return {
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "arn": arn, "accountId": "111122223333"},
        "eventTime": f"2026-11-02T12:01:{i:02d}Z",
        "eventSource": "secretsmanager.amazonaws.com",
        "eventName": "GetSecretValue",
        "sourceIPAddress": "203.0.113.50",
        "requestParameters": {"secretId": f"prod/secret-{i}"},
        "eventID": f"e{i}",
    }


def _run(rules: Path, log: Path) -> list[dict[str, object]]:
    done = subprocess.run(
        [sys.executable, "-m", "ctrules.cli", "run", str(rules), str(log)],
        capture_output=True, check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_stateful_rules_see_whole_records_through_the_lazy_reader(tmp_path: Path) -> None:
    rules = tmp_path / "rules.ctr"
    rules.write_text(RULES)
    records = [_record(i, "arn:aws:iam::111122223333:user/bert") for i in range(4)]
    records.append(_record(9, "arn:aws:iam::111122223333:user/ann"))
    log = tmp_path / "log.json.gz"  # small and well-formed: the lazy reader's own path
    log.write_bytes(gzip.compress(json.dumps({"Records": records}).encode()))

    alerts = _run(rules, log)

    assert [a["rule"] for a in alerts] == ["many_secrets"]
    alert = alerts[0]
    assert alert["summary"] == "arn:aws:iam::111122223333:user/bert read 4 secrets"
    assert alert["state"]["key"] == {"userIdentity.arn": "arn:aws:iam::111122223333:user/bert"}
