"""The command line as users call it: exit codes, output shapes, and the README's first command."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ctrules.cli import main

RULES = """\
list trail_changes = ["StopLogging", "DeleteTrail"]

rule trail_stopped {
    severity critical
    summary  "{userIdentity.arn} called {eventName}"
    when     eventSource == "cloudtrail.amazonaws.com" and eventName in trail_changes

    example "stop" match {"eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging"}
    example "lookup" no match {"eventSource": "cloudtrail.amazonaws.com", "eventName": "LookupEvents"}
}

rule denied {
    severity low
    when errorCode in ["AccessDenied", "Client.UnauthorizedOperation"]
    example "denied" match {"errorCode": "AccessDenied"}
    example "fine" no match {"eventName": "GetUser"}
}

ignore ci_probe {
    reason "CI checks its permissions"
    owner  "platform"
    rules  [denied]
    when   userIdentity.userName == "ci"
}
"""

EVENTS = [
    {"eventID": "1", "eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging",
     "recipientAccountId": "111122223333", "userIdentity": {"arn": "arn:aws:iam::1:user/bob"}},
    {"eventID": "2", "eventSource": "iam.amazonaws.com", "eventName": "GetUser",
     "errorCode": "AccessDenied", "userIdentity": {"userName": "ci"}},
    {"eventID": "3", "eventSource": "iam.amazonaws.com", "eventName": "GetUser",
     "errorCode": "AccessDenied", "userIdentity": {"userName": "eve"}},
    {"eventID": "4", "eventSource": "ec2.amazonaws.com", "eventName": "DescribeInstances"},
]


@pytest.fixture()
def ruleset(tmp_path: Path) -> Path:
    path = tmp_path / "rules.ctr"
    path.write_text(RULES)
    return path


def test_run_prints_alerts_and_counts(ruleset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "log.json.gz"
    log.write_bytes(gzip.compress(json.dumps({"Records": EVENTS}).encode()))
    assert main(["run", str(ruleset), str(log)]) == 0
    out, err = capsys.readouterr()
    alerts = [json.loads(line) for line in out.splitlines()]
    assert [(a["rule"], a["eventID"]) for a in alerts] == [("trail_stopped", "1"), ("denied", "3")]
    first = alerts[0]
    assert first["summary"] == "arn:aws:iam::1:user/bob called StopLogging"
    assert first["account"] == "111122223333" and first["severity"] == "critical"
    assert first["event"] == EVENTS[0]
    assert "records: 4" in err and "ignored       1  ci_probe" in err


def test_run_skips_a_bad_record_and_keeps_the_rest(ruleset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = json.dumps(EVENTS[0])
    log = tmp_path / "broken.json"
    log.write_text('{"Records": [' + good + ', {"eventName": oops}, ' + json.dumps(EVENTS[2]) + "]}")
    assert main(["run", str(ruleset), str(log)]) == 1
    out, err = capsys.readouterr()
    assert [json.loads(line)["eventID"] for line in out.splitlines()] == ["1", "3"]
    assert "record 1" in err and "bad: 1" in err


def test_run_reports_a_missing_file_and_processes_the_others(ruleset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "ok.jsonl"
    log.write_text("\n".join(json.dumps(e) for e in EVENTS))
    assert main(["run", str(ruleset), str(tmp_path / "nope.json"), str(log)]) == 1
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 2 and "nope.json" in err


def test_check_text_json_and_github(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.ctr"
    bad.write_text('rule a {\n    when eventName = "x"\n}\n')
    assert main(["check", str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:2:20: CTR001 error:" in out
    assert '        when eventName = "x"\n                       ^' in out
    assert main(["check", "--format", "json", str(bad)]) == 1
    (finding,) = json.loads(capsys.readouterr().out)
    assert {k: finding[k] for k in ("line", "col", "code", "severity")} == {
        "line": 2, "col": 20, "code": "CTR001", "severity": "error"}
    assert main(["check", "--format", "github", str(bad)]) == 1
    assert capsys.readouterr().out.startswith(f"::error file={bad},line=2,col=20")


def test_check_clean_and_usage_errors(ruleset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(ruleset)]) == 0
    assert main(["check", str(tmp_path / "missing.ctr")]) == 2


def test_test_command_reports_failures_with_the_deciding_clause(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "r.ctr"
    path.write_text(RULES.replace('"eventName": "LookupEvents"', '"eventName": "DeleteTrail"'))
    assert main(["test", str(path)]) == 1
    out = capsys.readouterr().out
    assert 'FAIL: rule trail_stopped, example "lookup": expected no match, got match' in out
    assert "decided by: ✓ eventName in trail_changes" in out
    assert out.rstrip().endswith("3 passed, 1 failed")


def test_test_command_passes(ruleset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", str(ruleset)]) == 0
    assert capsys.readouterr().out.strip() == "4 passed, 0 failed"


def test_explain_shows_values(ruleset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    event = tmp_path / "e.json"
    event.write_text(json.dumps(EVENTS[2]))
    assert main(["explain", str(ruleset), str(event), "--rule", "denied"]) == 0
    out = capsys.readouterr().out
    assert "rule denied: MATCH" in out
    assert '✓ errorCode in ["AccessDenied", "Client.UnauthorizedOperation"]   [errorCode = "AccessDenied"]' in out


def test_readme_first_command_runs_the_embedded_default() -> None:
    proc = subprocess.run([sys.executable, "-m", "ctrules.cli", "run"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    alerts = [json.loads(line) for line in proc.stdout.splitlines()]
    assert alerts, "the bundled sample should fire some default rules"
    assert {"rule", "severity", "summary", "eventID", "eventName", "account", "event"} <= alerts[0].keys()
    assert "records:" in proc.stderr


def test_default_names_the_bundled_pack(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["check", "default"]) == 0
    assert main(["test", "default"]) == 0
    assert capsys.readouterr().out.strip().endswith(" failed")
