"""`ctrules run --deliver` resolves `ssm:` / `secretsmanager:` references as the Lambda handler
does (moto over HTTP, the local Slack stand-in), and an unreadable one is a clear error — never a
traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.moto_server import aws_client, aws_env, unique
from tests.support.slack_server import SlackServer

ROOT = Path(__file__).parents[2]
RULES = ROOT / "tests" / "hostile" / "rules" / "hostile.ctr"


def _log(tmp: Path) -> Path:
    path = tmp / "log.json"
    path.write_text(json.dumps({"Records": [
        {"eventVersion": "1.08", "eventName": "Hit", "eventID": "e-1", "eventSource": "x"}]}))
    return path


def _run(env: dict[str, str], log: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ctrules.cli", "run", "--deliver", "--quiet", str(RULES), str(log)],
        env=env, capture_output=True, text=True, timeout=120, cwd=ROOT,
    )


def test_run_deliver_resolves_ssm_and_secretsmanager_references(
    moto_server: str, slack_server: SlackServer, tmp_path: Path
) -> None:
    ssm_name = f"/ctrules/{unique('hook')}"
    aws_client(moto_server, "ssm").put_parameter(
        Name=ssm_name, Value=slack_server.webhook_url("from-ssm"), Type="SecureString"
    )
    secret = unique("hooks")
    aws_client(moto_server, "secretsmanager").create_secret(
        Name=secret,
        SecretString=json.dumps({"default": f"ssm:{ssm_name}", "ops": "COPS0001"}),
    )
    token = unique("tok")
    aws_client(moto_server, "secretsmanager").create_secret(Name=token, SecretString="xoxb-t")
    slack_server.token = "xoxb-t"
    env = aws_env(
        moto_server,
        CTRULES_SLACK_DESTINATIONS=f"secretsmanager:{secret}",
        CTRULES_SLACK_BOT_TOKEN=f"secretsmanager:{token}",
        CTRULES_SLACK_API_URL=slack_server.api_url,
    )
    # The map's values are references too (resolved one level down, like the handler).
    proc = _run(env, _log(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    posts = slack_server.posts_to("from-ssm")
    assert len(posts) == 1 and "e-1" in posts[0]["text"]


def test_run_deliver_with_an_unreadable_reference_is_a_clear_error(
    moto_server: str, tmp_path: Path
) -> None:
    env = aws_env(moto_server, CTRULES_SLACK_WEBHOOK_URL="ssm:/ctrules/no-such-parameter")
    proc = _run(env, _log(tmp_path))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "cannot read secret 'ssm:/ctrules/no-such-parameter'" in proc.stderr
    assert proc.stdout == ""  # nothing evaluated with half a configuration
