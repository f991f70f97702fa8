"""The deployable zip works on its own: `scripts/build_lambda_zip.py` (what `make lambda-zip`
runs) builds it, it is unpacked into an empty directory, and the handler is invoked from there
by a bare interpreter (`python -I -S`: no site-packages, no editable install) against moto.
The zip leaves boto3/botocore to the Lambda runtime, which puts its own copy on sys.path after
the task directory: a directory holding only that SDK stack stands in for it."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.consumer.support import EXPECTED, RULES, SAMPLE_KEY, event, log_file
from tests.support.moto_server import aws_env

ROOT = Path(__file__).parents[2]

INVOKE = r"""
import json, os, sys
sys.path.insert(0, os.getcwd())  # what the Lambda runtime does with LAMBDA_TASK_ROOT
sys.path.append(os.environ["RUNTIME_SDK"])  # the runtime's boto3 (/var/runtime), after the zip
import ctrules, ctrules.aws.handler as h
event = json.loads(sys.stdin.read())
result = h.handler(event, None)
sys.stdout.flush()
print("RESULT " + json.dumps({"result": result, "ctrules": ctrules.__file__}))
"""


# What the Lambda Python runtime ships besides the standard library.
RUNTIME_SDK = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "urllib3")


@pytest.fixture(scope="module")
def runtime_sdk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import boto3

    site = Path(boto3.__file__).parents[1]
    sdk = tmp_path_factory.mktemp("runtime")
    for name in RUNTIME_SDK:
        if (site / name).exists():
            (sdk / name).symlink_to(site / name)
    return sdk


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist") / "ctrules-lambda.zip"
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_lambda_zip.py"), "-o", str(out)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    target = tmp_path_factory.mktemp("task")  # empty, like /var/task
    with zipfile.ZipFile(out) as zf:
        assert "ctrules/aws/handler.py" in zf.namelist()
        # The runtime provides the SDK: 27 of 36 MB of the zip when it was bundled.
        assert not [n for n in zf.namelist() if n.startswith(("boto3/", "botocore/"))]
        # Bytecode ships in the zip: /var/task is read-only, cold starts should not compile.
        tag = sys.implementation.cache_tag
        assert f"ctrules/aws/__pycache__/handler.{tag}.pyc" in zf.namelist()
        zf.extractall(target)
    return target


def test_unpacked_zip_handles_an_sqs_batch_against_moto(
    unpacked: Path, runtime_sdk: Path, moto_server: str, s3: Any, bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key=SAMPLE_KEY, Body=log_file())
    s3.put_object(Bucket=bucket, Key="config/rules/consumer.ctr", Body=RULES.read_bytes())
    env = aws_env(
        moto_server,
        CTRULES_RULES=f"s3://{bucket}/config/rules/",
        CTRULES_LOG_LEVEL="INFO",
        RUNTIME_SDK=str(runtime_sdk),
    )
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-c", INVOKE],
        cwd=unpacked,
        env=env,
        input=json.dumps(event("sqs_s3_notification.json", bucket)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    (result_line,) = [x for x in lines if x.startswith("RESULT ")]
    result = json.loads(result_line[len("RESULT ") :])
    assert result["result"] == {"batchItemFailures": []}
    assert result["ctrules"].startswith(str(unpacked))  # the zip's copy, nothing else
    alerts = [json.loads(x) for x in lines if x.startswith('{"rule"')]
    by_rule: dict[str, int] = {}
    for a in alerts:
        by_rule[a["rule"]] = by_rule.get(a["rule"], 0) + 1
    assert by_rule == EXPECTED
    emf = [json.loads(x) for x in lines if x.startswith('{"_aws"')]
    assert emf and emf[0]["Delivered"] == sum(EXPECTED.values())
    assert '"message":"runtime ready"' in proc.stderr
