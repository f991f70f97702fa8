"""Bench — deterministic generator of realistic CloudTrail log files.

Writes files the way CloudTrail delivers them to S3:
``AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<rand>.json.gz``
each holding ``{"Records": [...]}`` with a few hundred to tens of thousands of records.

Realism comes from the corpus (invictus-ir/aws_dataset, real CloudTrail records): every corpus
record is a template, and error codes are learned per service from it. On top of that the mix is
reweighted toward what an organisation trail sees in production — most volume is AssumeRole by AWS
services, KMS Decrypt/GenerateDataKey, ECR pulls and Describe/Get/List calls; writes are a minority;
a long tail of hundreds of rarely seen names; ~7% of calls fail. Large RunInstances payloads,
console logins, root activity and trail tampering appear at low rates so every parity rule has
matches.

Speed: records are shallow copies of template dicts with a handful of fields replaced (time, IDs,
identity, region, account, error); nested parts are shared, which orjson serialises as if copied.
Files are written by worker processes; every file has its own seed, so the output is identical for
a given seed whatever the number of workers.

    python -m bench.generate --events 1M --out bench/out/data-1M
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import random
import string
import sys
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench.catalog import CATALOG, S3_DATA_EVENTS, is_read

GENERATOR_VERSION = 1
DEFAULT_SEED = 1
START = datetime(2026, 1, 5, tzinfo=UTC)
FILE_WINDOW_S = 300  # CloudTrail delivers about every five minutes per account and region

Record = dict[str, Any]

# --------------------------------------------------------------------------------------------
# Corpus location
# --------------------------------------------------------------------------------------------


def find_corpus() -> Path | None:
    """The real-record corpus, if this machine has it (the generator works without it)."""
    candidates = []
    if os.environ.get("CTRULES_CORPUS"):
        candidates.append(Path(os.environ["CTRULES_CORPUS"]))
    repo = Path(__file__).resolve().parent.parent
    candidates += [
        repo.parent / "shared" / "corpus" / "real" / "invictus_aws_dataset.jsonl",
        Path("/work/shared/corpus/real/invictus_aws_dataset.jsonl"),
    ]
    for path in candidates:
        if path.is_file():
            return path
    return None


# --------------------------------------------------------------------------------------------
# Identities, addresses, agents
# --------------------------------------------------------------------------------------------

_AGENTS_HUMAN = [
    "AWS Internal",
    "console.amazonaws.com",
    "signin.amazonaws.com",
    "[Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.2 Safari/605.1.15]",
    "aws-cli/2.15.10 Python/3.11.6 Darwin/23.2.0 exe/x86_64 prompt/off "
    "command/sts.get-caller-identity",
    "aws-cli/2.13.25 Python/3.11.5 Linux/6.2.0-1014-aws exe/x86_64.ubuntu.22 prompt/off",
    "Boto3/1.34.11 md/Botocore#1.34.11 ua/2.0 os/linux#6.2.0 md/arch#x86_64 lang/python#3.11.6 "
    "md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.11",
]
_AGENTS_CI = [
    "APN/1.0 HashiCorp/1.0 Terraform/1.6.6 (+https://www.terraform.io) "
    "terraform-provider-aws/5.31.0 (+https://registry.terraform.io/providers/hashicorp/aws) "
    "aws-sdk-go-v2/1.24.0 os/linux "
    "lang/go#1.21.5 md/GOOS#linux md/GOARCH#amd64 api/sts#1.26.6",
    "aws-sdk-go-v2/1.24.0 os/linux lang/go#1.21.5 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.141.0",
    "aws-cdk/2.118.0 aws-sdk-js/3.485.0 ua/2.0 os/linux#5.15 lang/js md/nodejs#20.10.0",
]
_AGENTS_APP = [
    "aws-sdk-java/2.21.46 Linux/5.10.201-191.748.amzn2.x86_64 "
    "OpenJDK_64-Bit_Server_VM/17.0.9+8-LTS Java/17.0.9 vendor/Amazon.com_Inc. "
    "exec-env/AWS_ECS_FARGATE io/sync http/Apache cfg/retry-mode/legacy",
    "Boto3/1.34.11 md/Botocore#1.34.11 ua/2.0 os/linux#5.10.201 md/arch#x86_64 lang/python#3.12.1 "
    "exec-env/AWS_Lambda_python3.12 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.11",
    "aws-sdk-nodejs/2.1534.0 linux/v20.10.0 exec-env/AWS_Lambda_nodejs20.x promise",
    "kubernetes/v1.28.5-eks-5e0fdde",
]
_SERVICE_PRINCIPALS = [
    "lambda.amazonaws.com", "ecs-tasks.amazonaws.com", "ec2.amazonaws.com",
    "config.amazonaws.com", "cloudformation.amazonaws.com", "autoscaling.amazonaws.com",
    "ssm.amazonaws.com", "events.amazonaws.com", "backup.amazonaws.com",
    "securityhub.amazonaws.com",
]


@dataclass(frozen=True)
class Identity:
    user_identity: dict[str, Any]
    ips: tuple[str, ...]
    agents: tuple[str, ...]


def _rand_id(rng: random.Random, prefix: str, n: int = 16) -> str:
    return prefix + "".join(rng.choices(string.ascii_uppercase + string.digits, k=n))


def _identities(rng: random.Random, account: str) -> dict[str, list[Identity]]:
    public = tuple(f"{rng.choice([52, 3, 18, 34, 91, 185, 203])}.{rng.randrange(256)}."
                   f"{rng.randrange(256)}.{rng.randrange(1, 255)}" for _ in range(24))
    private = tuple(f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
                    for _ in range(24))
    created = "2026-01-05T00:00:00Z"
    out: dict[str, list[Identity]] = defaultdict(list)
    roles = [
        ("AWSReservedSSO_AdministratorAccess_3f1c2a9b7d6e5f40", ["alice@example.com",
                                                                  "bob@example.com"], "human"),
        ("AWSReservedSSO_ReadOnlyAccess_8a7b6c5d4e3f2a10", ["carol@example.com",
                                                             "dave@example.com",
                                                             "erin@example.com"], "human"),
        ("AWSReservedSSO_PowerUserAccess_1b2c3d4e5f6a7b8c", ["frank@example.com"], "human"),
        ("ci-terraform", ["GitHubActions", "atlantis-plan"], "ci"),
        ("deploy-pipeline", ["codebuild-1", "codebuild-2"], "ci"),
        ("app-orders-task-role", ["a1b2c3d4e5f6", "0f9e8d7c6b5a"], "app"),
        ("app-payments-lambda-role", ["payments-handler", "payments-refunds"], "app"),
        ("eks-node-group-role", ["i-0a1b2c3d4e5f60718", "i-0fedcba9876543210"], "app"),
        ("datadog-integration", ["DatadogAWSIntegration"], "app"),
        ("security-audit", ["prowler", "steampipe"], "ci"),
        ("OrganizationAccountAccessRole", ["breakglass"], "human"),
        ("AWSServiceRoleForConfig", ["AWSConfig-Describe"], "app"),
    ]
    for role, sessions, kind in roles:
        role_id = _rand_id(rng, "AROA", 17)
        issuer = {"type": "Role", "principalId": role_id,
                  "arn": f"arn:aws:iam::{account}:role/{role}", "accountId": account,
                  "userName": role}
        for session in sessions:
            ident = {
                "type": "AssumedRole", "principalId": f"{role_id}:{session}",
                "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
                "accountId": account, "accessKeyId": _rand_id(rng, "ASIA"),
                "sessionContext": {
                    "sessionIssuer": issuer, "webIdFederationData": {},
                    "attributes": {"creationDate": created,
                                   "mfaAuthenticated": "true" if kind == "human" else "false"},
                },
            }
            if kind == "human":
                out["AssumedRole"].append(Identity(ident, public, tuple(_AGENTS_HUMAN)))
            elif kind == "ci":
                out["AssumedRole"].append(Identity(ident, public[:4], tuple(_AGENTS_CI)))
            else:
                out["AssumedRole"].append(Identity(ident, private, tuple(_AGENTS_APP)))
    for user in ["svc-backup", "legacy-jenkins", "grafana-reader", "ops-admin", "mallory",
                 "bi-export", "smtp-relay", "vendor-scanner"]:
        ident = {"type": "IAMUser", "principalId": _rand_id(rng, "AIDA", 17),
                 "arn": f"arn:aws:iam::{account}:user/{user}", "accountId": account,
                 "accessKeyId": _rand_id(rng, "AKIA"), "userName": user}
        out["IAMUser"].append(Identity(ident, public + private[:4],
                                       tuple(_AGENTS_HUMAN[3:] + _AGENTS_CI[:1])))
    for principal in _SERVICE_PRINCIPALS:
        ident = {"type": "AWSService", "invokedBy": principal}
        out["AWSService"].append(Identity(ident, (principal,), (principal,)))
    other = f"{rng.randrange(10**11, 10**12)}"
    out["AWSAccount"].append(Identity(
        {"type": "AWSAccount", "principalId": _rand_id(rng, "AIDA", 17), "accountId": other},
        public[:3], tuple(_AGENTS_APP[:1])))
    out["FederatedUser"].append(Identity(
        {"type": "FederatedUser", "principalId": f"{account}:partner-sync",
         "arn": f"arn:aws:sts::{account}:federated-user/partner-sync", "accountId": account,
         "accessKeyId": _rand_id(rng, "ASIA"),
         "sessionContext": {"sessionIssuer": {"type": "IAMUser", "principalId": "AIDAEXAMPLE",
                                              "arn": f"arn:aws:iam::{account}:user/partner",
                                              "accountId": account, "userName": "partner"},
                            "attributes": {"creationDate": created,
                                           "mfaAuthenticated": "false"}}},
        public[:2], tuple(_AGENTS_APP[1:2])))
    out["Root"].append(Identity(
        {"type": "Root", "principalId": account, "arn": f"arn:aws:iam::{account}:root",
         "accountId": account, "accessKeyId": _rand_id(rng, "ASIA")},
        public[:2], tuple(_AGENTS_HUMAN[:4])))
    out["Anonymous"].append(Identity(
        {"type": "AWSAccount", "principalId": "", "accountId": "ANONYMOUS_PRINCIPAL"},
        public, ("[curl/8.4.0]", "[python-requests/2.31.0]")))
    return out


# Identity types for calls made by principals (not by AWS services on their own behalf).
_CALLER_TYPES = [("AssumedRole", 0.82), ("IAMUser", 0.13), ("AWSAccount", 0.03),
                 ("FederatedUser", 0.02)]


# --------------------------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------------------------

# How a template's identity is filled in per record.
SWAP = 0      # a caller drawn from the account's principals
SERVICE = 1   # an AWS service principal
KEEP = 2      # the template's own identity (AWS service events, odd shapes from the corpus)
ROOT = 3      # the account's root user
S3DATA = 4    # S3 data event: identity, bucket, key and resources drawn per record


@dataclass
class Template:
    record: Record
    mode: int
    weight: float


_HOT_ERRORS: dict[str, list[tuple[str, str]]] = {
    "ec2.amazonaws.com": [("Client.UnauthorizedOperation",
                           "You are not authorized to perform this operation."),
                          ("Client.RequestLimitExceeded", "Request limit exceeded."),
                          ("Client.InvalidParameterValue", "Invalid value for parameter.")],
    "s3.amazonaws.com": [("AccessDenied", "Access Denied"),
                         ("NoSuchBucketPolicy", "The bucket policy does not exist"),
                         ("NoSuchLifecycleConfiguration",
                          "The lifecycle configuration does not exist")],
}
_GENERIC_ERRORS = [
    ("AccessDenied", "User is not authorized to perform this operation"),
    ("AccessDeniedException", "User is not authorized to perform this action"),
    ("ThrottlingException", "Rate exceeded"),
    ("ResourceNotFoundException", "The requested resource was not found"),
    ("ValidationException", "1 validation error detected"),
]


def _tls(host: str) -> dict[str, str]:
    return {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": host}


def _base(source: str, name: str, params: Any = None, response: Any = None,
          **extra: Any) -> Record:
    rec: Record = {
        "eventVersion": "1.09", "userIdentity": None, "eventTime": "", "eventSource": source,
        "eventName": name, "awsRegion": "", "sourceIPAddress": "", "userAgent": "",
        "requestParameters": params, "responseElements": response, "requestID": "",
        "eventID": "", "readOnly": is_read(name), "eventType": "AwsApiCall",
        "managementEvent": True, "recipientAccountId": "", "eventCategory": "Management",
        "tlsDetails": _tls(source.replace(".amazonaws.com", ".us-east-1.amazonaws.com")),
    }
    rec.update(extra)
    return rec


def _generic_params(rng: random.Random, source: str, name: str) -> Any:
    """A plausible requestParameters for a long-tail name (shapes vary by verb)."""
    if is_read(name):
        return rng.choice([None, {"maxResults": 100}, {"filterSet": {}, "maxResults": 1000},
                           {"nextToken": "eyJ2IjoxfQ=="}])
    stem = name.lower()[:24]
    shape = rng.randrange(4)
    if shape == 0:
        return {"name": f"{stem}-prod", "tags": [{"key": "team", "value": "platform"},
                                                 {"key": "env", "value": "prod"}]}
    if shape == 1:
        return {"resourceArn": f"arn:aws:{source.split('.')[0]}:us-east-1:000000000000:{stem}/x",
                "policy": '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
                          '"Principal":"*","Action":"*","Resource":"*"}]}'}
    if shape == 2:
        return {"id": f"{stem}-{rng.randrange(10**6)}", "configuration": {
            "enabled": rng.random() < 0.5, "retentionInDays": rng.choice([7, 30, 90, 365]),
            "kmsKeyId": "alias/aws/" + source.split(".")[0]}}
    return {"clientToken": f"{rng.getrandbits(64):016x}", "dryRun": False,
            "items": [{"value": f"v{i}"} for i in range(rng.randrange(1, 5))]}


def _run_instances(n: int, rng: random.Random) -> Record:
    """A RunInstances call launching n instances: the largest common payload (10–30 KB)."""
    vpc, subnet, sg = "vpc-0a1b2c3d4e5f67890", "subnet-0123456789abcdef0", "sg-0fedcba9876543210"
    tags = [{"key": "Name", "value": "web"}, {"key": "team", "value": "checkout"},
            {"key": "env", "value": "prod"}, {"key": "cost-center", "value": "1234"}]
    params = {
        "instancesSet": {"items": [{"imageId": "ami-0c7217cdde317cfec", "minCount": n,
                                    "maxCount": n, "keyName": "deploy"}]},
        "userData": "<sensitiveDataRemoved>", "instanceType": "m6i.large",
        "blockDeviceMapping": {"items": [{"deviceName": "/dev/xvda", "ebs": {
            "volumeSize": 50, "deleteOnTermination": True, "volumeType": "gp3",
            "encrypted": True}}]},
        "monitoring": {"enabled": True}, "disableApiTermination": False,
        "disableApiStop": False, "clientToken": f"{rng.getrandbits(128):032x}",
        "networkInterfaceSet": {"items": [{"deviceIndex": 0, "subnetId": subnet,
                                           "associatePublicIpAddress": False,
                                           "groupSet": {"items": [{"groupId": sg}]}}]},
        "iamInstanceProfile": {"arn": "arn:aws:iam::000000000000:instance-profile/web"},
        "ebsOptimized": True,
        "tagSpecificationSet": {"items": [{"resourceType": "instance", "tags": tags},
                                          {"resourceType": "volume", "tags": tags}]},
        "metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 2,
                            "httpEndpoint": "enabled"},
    }
    items = []
    for i in range(n):
        iid = f"i-0{rng.getrandbits(64):016x}"
        ip = f"10.20.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        eni = f"eni-0{rng.getrandbits(64):016x}"
        items.append({
            "instanceId": iid, "imageId": "ami-0c7217cdde317cfec",
            "currentInstanceBootMode": "legacy-bios",
            "instanceState": {"code": 0, "name": "pending"},
            "privateDnsName": f"ip-{ip.replace('.', '-')}.ec2.internal", "keyName": "deploy",
            "amiLaunchIndex": i, "productCodes": {}, "instanceType": "m6i.large",
            "launchTime": 1767571200000,
            "placement": {"availabilityZone": "us-east-1a", "tenancy": "default"},
            "monitoring": {"state": "pending"}, "subnetId": subnet, "vpcId": vpc,
            "privateIpAddress": ip,
            "stateReason": {"code": "pending", "message": "pending"}, "architecture": "x86_64",
            "rootDeviceType": "ebs", "rootDeviceName": "/dev/xvda", "blockDeviceMapping": {},
            "virtualizationType": "hvm", "hypervisor": "xen",
            "tagSet": {"items": tags},
            "groupSet": {"items": [{"groupId": sg, "groupName": "web"}]},
            "networkInterfaceSet": {"items": [{
                "networkInterfaceId": eni, "subnetId": subnet, "vpcId": vpc,
                "ownerId": "000000000000", "status": "in-use", "macAddress": "0e:12:34:56:78:9a",
                "privateIpAddress": ip, "privateDnsName": f"ip-{ip.replace('.', '-')}.ec2.internal",
                "sourceDestCheck": True, "interfaceType": "interface",
                "groupSet": {"items": [{"groupId": sg, "groupName": "web"}]},
                "attachment": {"attachmentId": f"eni-attach-0{rng.getrandbits(64):016x}",
                               "deviceIndex": 0, "networkCardIndex": 0, "status": "attaching",
                               "attachTime": 1767571200000, "deleteOnTermination": True},
                "privateIpAddressesSet": {"item": [{"privateIpAddress": ip,
                                                    "primary": True}]},
                "ipv6AddressesSet": {}, "tagSet": {}}]},
            "iamInstanceProfile": {"arn": "arn:aws:iam::000000000000:instance-profile/web",
                                   "id": "AIPAEXAMPLEPROFILE1"},
            "ebsOptimized": True, "enaSupport": True,
            "cpuOptions": {"coreCount": 1, "threadsPerCore": 2},
            "capacityReservationSpecification": {"capacityReservationPreference": "open"},
            "enclaveOptions": {"enabled": False},
            "metadataOptions": {"state": "pending", "httpTokens": "required",
                                "httpPutResponseHopLimit": 2, "httpEndpoint": "enabled",
                                "httpProtocolIpv4": "enabled", "httpProtocolIpv6": "disabled",
                                "instanceMetadataTags": "disabled"},
            "maintenanceOptions": {"autoRecovery": "default"},
            "privateDnsNameOptions": {"hostnameType": "ip-name",
                                      "enableResourceNameDnsARecord": False,
                                      "enableResourceNameDnsAAAARecord": False},
        })
    response = {"requestId": "", "reservationId": f"r-0{rng.getrandbits(64):016x}",
                "ownerId": "000000000000", "groupSet": {}, "instancesSet": {"items": items},
                "requesterId": None}
    return _base("ec2.amazonaws.com", "RunInstances", params, response)


def _strip(record: Record) -> Record:
    rec = dict(record)
    rec.pop("errorCode", None)
    rec.pop("errorMessage", None)
    return rec


def _build_templates(corpus: Path | None, rng: random.Random) -> tuple[list[Template],
                                                                       dict[str, list]]:
    """Templates with weights summing to 1 (before S3 data events), and errors per service."""
    templates: list[Template] = []
    errors: dict[str, list[tuple[str, str]]] = defaultdict(list)

    # 1. The corpus: real shapes, 50% of the volume, each record one template.
    corpus_records: list[Record] = []
    if corpus is not None:
        with corpus.open("rb") as fh:
            for line in fh:
                line = line.strip()
                if line:
                    rec = orjson.loads(line)
                    if isinstance(rec, dict) and "eventName" in rec:
                        corpus_records.append(rec)
    for rec in corpus_records:
        if "errorCode" in rec:
            errors[rec["eventSource"]].append((rec["errorCode"], rec.get("errorMessage", "")))
    corpus_share = 0.50 if corpus_records else 0.0
    for rec in corpus_records:
        ident = rec.get("userIdentity")
        if rec.get("eventType") != "AwsApiCall" or not isinstance(ident, dict) or \
                "type" not in ident:
            mode = KEEP
        elif ident.get("type") == "AWSService" or "invokedBy" in ident:
            mode = SERVICE
        else:
            mode = SWAP
        templates.append(Template(_strip(rec), mode, corpus_share / len(corpus_records)))

    # 2. Production's heavy hitters, 37% of the volume.
    key_arn = "arn:aws:kms:us-east-1:000000000000:key/6f2e1a3b-0c4d-4e5f-8a9b-1c2d3e4f5a6b"
    kms_res = [{"accountId": "000000000000", "type": "AWS::KMS::Key", "ARN": key_arn}]
    role_arn = "arn:aws:iam::000000000000:role/app-orders-task-role"
    hot: list[tuple[Record, int, float]] = [
        (_base("sts.amazonaws.com", "AssumeRole",
               {"roleArn": role_arn, "roleSessionName": "a1b2c3d4e5f6", "durationSeconds": 3600},
               {"credentials": {"accessKeyId": "ASIAEXAMPLEEXAMPLE01",
                                "sessionToken": "IQoJb3JpZ2luX2VjEXAMPLE",
                                "expiration": "Jan 5, 2026, 1:00:00 AM"},
                "assumedRoleUser": {"assumedRoleId": "AROAEXAMPLE:a1b2c3d4e5f6",
                                    "arn": "arn:aws:sts::000000000000:assumed-role/"
                                           "app-orders-task-role/a1b2c3d4e5f6"}},
               resources=[{"accountId": "000000000000", "type": "AWS::IAM::Role",
                           "ARN": role_arn}], sharedEventID="", readOnly=True),
         SERVICE, 0.10),
        (_base("sts.amazonaws.com", "AssumeRole",
               {"roleArn": "arn:aws:iam::000000000000:role/ci-terraform",
                "roleSessionName": "GitHubActions", "externalId": "ci"}, None,
               resources=[{"accountId": "000000000000", "type": "AWS::IAM::Role",
                           "ARN": "arn:aws:iam::000000000000:role/ci-terraform"}],
               readOnly=True), SWAP, 0.04),
        (_base("sts.amazonaws.com", "AssumeRoleWithWebIdentity",
               {"roleArn": "arn:aws:iam::000000000000:role/eks-pod-role",
                "roleSessionName": "botocore-session-1767571200"}, None, readOnly=True),
         SWAP, 0.02),
        (_base("kms.amazonaws.com", "Decrypt",
               {"encryptionAlgorithm": "SYMMETRIC_DEFAULT",
                "encryptionContext": {"aws:lambda:FunctionArn":
                                      "arn:aws:lambda:us-east-1:000000000000:function:orders"}},
               None, resources=kms_res), SERVICE, 0.07),
        (_base("kms.amazonaws.com", "GenerateDataKey",
               {"keyId": "alias/aws/s3", "keySpec": "AES_256",
                "encryptionContext": {"aws:s3:arn": "arn:aws:s3:::prod-orders-data/2026/01/05"}},
               None, resources=kms_res), SERVICE, 0.04),
        (_base("sts.amazonaws.com", "GetCallerIdentity"), SWAP, 0.02),
        (_base("ecr.amazonaws.com", "GetAuthorizationToken", {"registryIds": ["000000000000"]}),
         SWAP, 0.015),
        (_base("ecr.amazonaws.com", "BatchGetImage",
               {"repositoryName": "orders", "imageIds": [{"imageTag": "v1.42.0"}],
                "acceptedMediaTypes": ["application/vnd.docker.distribution.manifest.v2+json",
                                       "application/vnd.oci.image.manifest.v1+json"]}),
         SWAP, 0.015),
        (_base("logs.amazonaws.com", "DescribeLogStreams",
               {"logGroupName": "/aws/lambda/orders", "orderBy": "LastEventTime",
                "descending": True}), SWAP, 0.01),
        (_base("monitoring.amazonaws.com", "GetMetricData",
               {"metricDataQueries": [{"id": "m1", "metricStat": {"metric": {
                   "namespace": "AWS/EC2", "metricName": "CPUUtilization",
                   "dimensions": [{"name": "InstanceId", "value": "i-0123456789abcdef0"}]},
                   "period": 300, "stat": "Average"}}],
                "startTime": "Jan 5, 2026, 12:00:00 AM", "endTime": "Jan 5, 2026, 1:00:00 AM"}),
         SWAP, 0.01),
        (_base("ec2.amazonaws.com", "DescribeInstances",
               {"instancesSet": {}, "filterSet": {"items": [{"name": "tag:env", "valueSet": {
                   "items": [{"value": "prod"}]}}]}}), SWAP, 0.015),
        (_base("ssm.amazonaws.com", "UpdateInstanceInformation",
               {"instanceId": "i-0123456789abcdef0", "agentVersion": "3.2.1705.0",
                "platformType": "Linux", "platformName": "Amazon Linux"}), SWAP, 0.01),
    ]
    for rec, mode, weight in hot:
        templates.append(Template(rec, mode, weight))

    # 3. The long tail: every catalogue name, 12% of the volume in total.
    names = [(s, n) for s in sorted(CATALOG) for n in CATALOG[s]]
    tail_share = 0.12 + (0.50 - corpus_share)
    for source, name in names:
        rec = _base(source, name, _generic_params(rng, source, name))
        templates.append(Template(rec, SWAP, tail_share / len(names)))

    # 4. Rare, security-relevant events so that every parity rule has matches.
    login = _base("signin.amazonaws.com", "ConsoleLogin", None, {"ConsoleLogin": "Success"},
                  eventType="AwsConsoleSignIn", readOnly=False)
    rare: list[tuple[Record, int, float]] = []
    for mfa in ("Yes", "No"):
        rec = dict(login)
        rec["additionalEventData"] = {"LoginTo": "https://console.aws.amazon.com/console/home",
                                      "MobileVersion": "No", "MFAUsed": mfa}
        rare.append((rec, SWAP, 0.0004))
        rare.append((rec, ROOT, 0.00005))
    for n in (1, 4, 12):
        rare.append((_run_instances(n, rng), SWAP, 0.002 / 3))
    for name in ("GetAccountSummary", "ListBuckets", "CreateAccessKey", "DeleteTrail",
                 "PutBucketPolicy", "DescribeRegions", "EnableMFADevice"):
        source = next(s for s in sorted(CATALOG) if name in CATALOG[s])
        rare.append((_base(source, name, _generic_params(rng, source, name)), ROOT, 0.00005))
    for name in ("StopLogging", "UpdateTrail", "DeleteTrail"):
        rare.append((_base("cloudtrail.amazonaws.com", name, {"name": "org-trail"}), SWAP,
                     0.00003))
    for name in ("UpdateFunctionConfiguration20150331v2", "UpdateFunctionCode20150331v2"):
        for fn, weight in (("fivexl-cloudtrail-to-slack", 0.00003), ("orders", 0.0003)):
            rare.append((_base("lambda.amazonaws.com", name, {"functionName": fn},
                               {"functionName": fn, "functionArn":
                                f"arn:aws:lambda:us-east-1:000000000000:function:{fn}",
                                "runtime": "python3.12", "codeSize": 1048576,
                                "lastModified": "2026-01-05T00:00:00.000+0000",
                                "state": "Active"}), SWAP, weight))
    for rec, mode, weight in rare:
        templates.append(Template(rec, mode, weight))

    total = sum(t.weight for t in templates)
    for t in templates:
        t.weight /= total
    return templates, dict(errors)


# --------------------------------------------------------------------------------------------
# Malformed records
# --------------------------------------------------------------------------------------------

BROKEN_MARK = "__ctrules_bench_broken_record__"
# Balanced braces, invalid JSON inside: the file's fast decode fails and only this element is lost.
BROKEN_JSON = b'{"eventVersion":"1.08","eventName":"GetObject","x":tru,"y":[1,2]}'


def _malformed(rng: random.Random, good: Record) -> Any:
    kind = rng.randrange(8)
    if kind == 0:
        return "not a record"
    if kind == 1:
        return rng.choice([42, None, 3.5, True])
    if kind == 2:
        return [good.get("eventName"), good.get("eventSource")]
    if kind == 3:
        return {"eventVersion": "1.08"}
    if kind == 4:
        return {"eventName": 5, "eventSource": ["x"], "userIdentity": "root", "errorCode": 7}
    if kind == 5:
        bad = dict(good)
        bad.update(requestParameters="a string", resources={"not": "a list"}, userIdentity=None)
        return bad
    if kind == 6:
        deep: Any = "bottom"
        for i in range(60):
            deep = {f"k{i}": deep} if i % 2 else [deep]
        bad = dict(good)
        bad["requestParameters"] = deep
        return bad
    bad = dict(good)
    bad["eventTime"] = None
    bad["eventName"] = ""
    bad["readOnly"] = "true"
    return bad


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileSpec:
    index: int
    path: str
    records: int
    account: str
    region: str
    start: int  # epoch seconds of the file's five-minute window


@dataclass
class Options:
    seed: int = DEFAULT_SEED
    s3_data: float = 0.0       # share of records that are S3 data events
    errors: float = 0.07       # share of API calls that fail
    malformed: float = 0.0     # share of records that are malformed (some not even JSON)
    gzip_level: int = 6
    min_records: int = 300
    max_records: int = 20000


@dataclass
class Manifest:
    generator_version: int
    events: int
    files: int
    options: dict[str, Any]
    compressed_bytes: int = 0
    decompressed_bytes: int = 0
    malformed: int = 0
    broken_json: int = 0
    seconds: float = 0.0
    largest_file: str = ""
    largest_file_decompressed_bytes: int = 0
    event_names: int = 0
    error_rate: float = 0.0
    read_only_rate: float = 0.0
    identity_types: dict[str, int] = field(default_factory=dict)


_ACCOUNTS_N = 4
_REGIONS = [("us-east-1", 0.45), ("eu-west-1", 0.2), ("us-west-2", 0.15), ("eu-central-1", 0.1),
            ("ap-southeast-2", 0.05), ("ap-northeast-1", 0.05)]
_ACCOUNT_W = [0.5, 0.25, 0.15, 0.10]


def accounts(seed: int) -> list[str]:
    rng = random.Random(f"accounts:{seed}")
    return [f"{rng.randrange(10**11, 10**12)}" for _ in range(_ACCOUNTS_N)]


def plan(events: int, opts: Options) -> list[FileSpec]:
    """Which files to write: sizes log-uniform in [min_records, max_records], CloudTrail paths."""
    rng = random.Random(f"plan:{opts.seed}")
    accts = accounts(opts.seed)
    streams = [(a, r) for a in accts for r, _ in _REGIONS]
    weights = [aw * rw for aw in _ACCOUNT_W for _, rw in _REGIONS]
    next_slot: dict[tuple[str, str], int] = {}
    base = int(START.timestamp())
    specs = []
    remaining = events
    lo, hi = math.log(opts.min_records), math.log(max(opts.min_records, opts.max_records))
    while remaining > 0:
        account, region = rng.choices(streams, weights)[0]
        n = min(remaining, int(math.exp(rng.uniform(lo, hi))))
        slot = next_slot.get((account, region), rng.randrange(12))
        next_slot[(account, region)] = slot + 1 + (rng.random() < 0.2)
        start = base + slot * FILE_WINDOW_S
        when = datetime.fromtimestamp(start + FILE_WINDOW_S, UTC)
        suffix = "".join(rng.choices(string.ascii_letters + string.digits, k=16))
        path = (f"AWSLogs/{account}/CloudTrail/{region}/{when:%Y/%m/%d}/"
                f"{account}_CloudTrail_{region}_{when:%Y%m%dT%H%MZ}_{suffix}.json.gz")
        specs.append(FileSpec(len(specs), path, n, account, region, start))
        remaining -= n
    return specs


class Model:
    """Everything the workers share: templates, cumulative weights, identities, errors."""

    def __init__(self, opts: Options, corpus: Path | None) -> None:
        rng = random.Random(f"model:{opts.seed}")
        self.opts = opts
        self.templates, errors = _build_templates(corpus, rng)
        self.errors = {s: list(v) for s, v in errors.items()}
        for source, extra in _HOT_ERRORS.items():
            self.errors.setdefault(source, []).extend(extra)
        cum = 0.0
        self.cum: list[float] = []
        for t in self.templates:
            cum += t.weight * (1.0 - opts.s3_data)
            self.cum.append(cum)
        self.s3_template = _base("s3.amazonaws.com", "GetObject", None, None,
                                 eventCategory="Data", managementEvent=False)
        if opts.s3_data > 0:
            self.templates.append(Template(self.s3_template, S3DATA, opts.s3_data))
            self.cum.append(1.0)
        self.identities = {a: _identities(random.Random(f"ident:{opts.seed}:{a}"), a)
                           for a in accounts(opts.seed)}
        self.buckets = ["prod-orders-data", "prod-static-assets", "analytics-raw",
                        "terraform-state-000000", "cloudtrail-org-logs", "backups-eu",
                        "public-downloads", "ml-training-sets"]


_MODEL: Model | None = None


def _arn(rec: Record) -> str:
    ident = rec.get("userIdentity")
    return str(ident.get("arn", "")) if isinstance(ident, dict) else ""


def _uuid(getrandbits: Any) -> str:
    h = f"{getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{h[16:20]}-{h[20:]}"


def render(spec: FileSpec, model: Model) -> tuple[bytes, int, int, Counter[str]]:
    """The records of one file as the bytes of its .json.gz, plus counts of what it holds."""
    opts = model.opts
    rng = random.Random(f"file:{opts.seed}:{spec.index}")
    rand = rng.random
    bits = rng.getrandbits
    n = spec.records
    picks = rng.choices(model.templates, cum_weights=model.cum, k=n)
    offsets = sorted(rng.choices(range(FILE_WINDOW_S), k=n))
    times = [datetime.fromtimestamp(spec.start + s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
             for s in range(FILE_WINDOW_S)]
    idents = model.identities[spec.account]
    callers = [idents[t] for t, _ in _CALLER_TYPES]
    caller_w = list(_CALLER_TYPES_CUM)
    services = idents["AWSService"]
    root = idents["Root"][0]
    anonymous = idents["Anonymous"][0]
    region, account = spec.region, spec.account
    err_rate, mal_rate = opts.errors, opts.malformed
    errors = model.errors
    buckets = model.buckets
    stats: Counter[str] = Counter()
    records: list[Any] = []
    append = records.append
    for i in range(n):
        t = picks[i]
        rec = t.record.copy()
        mode = t.mode
        if mode == SWAP:
            r = rand()
            pool = callers[0] if r < caller_w[0] else callers[1] if r < caller_w[1] else \
                callers[2] if r < caller_w[2] else callers[3]
            ident = pool[int(rand() * len(pool))]
        elif mode == SERVICE:
            ident = services[int(rand() * len(services))]
        elif mode == ROOT:
            ident = root
        elif mode == S3DATA:
            ident = anonymous if rand() < 0.01 else callers[0][int(rand() * len(callers[0]))]
            bucket = buckets[int(rand() * len(buckets))]
            key = f"{2026}/{bits(8):02x}/{bits(32):08x}.parquet"
            name = S3_DATA_EVENTS[int(rand() * rand() * len(S3_DATA_EVENTS))]
            rec["eventName"] = name
            rec["readOnly"] = name.startswith(("Get", "Head", "List"))
            rec["requestParameters"] = {"bucketName": bucket, "Host":
                                        f"{bucket}.s3.{region}.amazonaws.com", "key": key}
            rec["additionalEventData"] = {"SignatureVersion": "SigV4",
                                          "CipherSuite": "TLS_AES_128_GCM_SHA256",
                                          "bytesTransferredIn": 0, "AuthenticationMethod":
                                          "AuthHeader", "bytesTransferredOut": bits(20)}
            rec["resources"] = [{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"},
                                {"accountId": account, "type": "AWS::S3::Bucket",
                                 "ARN": f"arn:aws:s3:::{bucket}"}]
        else:
            ident = None
        if ident is not None:
            rec["userIdentity"] = ident.user_identity
            rec["sourceIPAddress"] = ident.ips[int(rand() * len(ident.ips))]
            rec["userAgent"] = ident.agents[int(rand() * len(ident.agents))]
            stats[ident.user_identity["type"]] += 1
        rec["eventTime"] = times[offsets[i]]
        rec["awsRegion"] = region
        rec["recipientAccountId"] = account
        rec["eventID"] = _uuid(bits)
        if "requestID" in rec:
            rec["requestID"] = _uuid(bits)
        if rec.get("eventType") == "AwsApiCall" and rand() < err_rate:
            r = rand()
            source = rec["eventSource"]
            if r < 0.55:
                code, msg = (("Client.UnauthorizedOperation",
                              "You are not authorized to perform this operation.")
                             if source == "ec2.amazonaws.com" else
                             ("AccessDenied", f"User: {_arn(rec)} is not authorized to "
                              f"perform: {source.split('.')[0]}:{rec['eventName']}"))
            elif r < 0.75 or source not in errors:
                code, msg = _GENERIC_ERRORS[int(rand() * len(_GENERIC_ERRORS))]
            else:
                pool = errors[source]
                code, msg = pool[int(rand() * len(pool))]
            rec["errorCode"] = code
            rec["errorMessage"] = msg
            rec["responseElements"] = None
            stats["errors"] += 1
        if rec.get("readOnly") is True:
            stats["read_only"] += 1
        if mal_rate and rand() < mal_rate:
            if rand() < 0.2:
                rec = BROKEN_MARK
                stats["broken_json"] += 1
            else:
                rec = _malformed(rng, rec)
            stats["malformed"] += 1
        append(rec)
    raw = orjson.dumps({"Records": records})
    if stats["broken_json"]:
        raw = raw.replace(b'"' + BROKEN_MARK.encode() + b'"', BROKEN_JSON)
    comp = zlib.compressobj(opts.gzip_level, zlib.DEFLATED, 31)
    gz = comp.compress(raw) + comp.flush()
    return gz, len(raw), n, stats


_CALLER_TYPES_CUM = [sum(w for _, w in _CALLER_TYPES[: i + 1]) for i in range(len(_CALLER_TYPES))]


def _work(args: tuple[FileSpec, str]) -> tuple[str, int, int, int, dict[str, int]]:
    spec, out = args
    assert _MODEL is not None
    gz, raw_len, n, stats = render(spec, _MODEL)
    path = Path(out) / spec.path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gz)
    return spec.path, raw_len, len(gz), n, dict(stats)


def generate(out: Path, events: int, opts: Options, workers: int | None = None,
             corpus: Path | None = None, quiet: bool = False) -> Manifest:
    """Write `events` records under `out` (which is emptied of old AWSLogs) and a manifest."""
    global _MODEL
    t0 = time.perf_counter()
    corpus = corpus if corpus is not None else find_corpus()
    if corpus is None and not quiet:
        print("bench.generate: corpus not found, using built-in templates only", file=sys.stderr)
    _MODEL = Model(opts, corpus)
    specs = plan(events, opts)
    out.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(GENERATOR_VERSION, events, len(specs), asdict(opts))
    workers = workers or min(len(specs), os.cpu_count() or 1)
    jobs = [(s, str(out)) for s in specs]
    totals: Counter[str] = Counter()
    results: Iterable[tuple[str, int, int, int, dict[str, int]]]
    if workers > 1:
        pool = mp.get_context("fork").Pool(workers)
        results = pool.imap_unordered(_work, jobs, chunksize=1)
    else:
        pool = None
        results = map(_work, jobs)
    try:
        for path, raw_len, gz_len, _n, stats in results:
            manifest.compressed_bytes += gz_len
            manifest.decompressed_bytes += raw_len
            totals.update(stats)
            if raw_len > manifest.largest_file_decompressed_bytes:
                manifest.largest_file_decompressed_bytes = raw_len
                manifest.largest_file = path
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    manifest.malformed = totals.pop("malformed", 0)
    manifest.broken_json = totals.pop("broken_json", 0)
    manifest.error_rate = round(totals.pop("errors", 0) / max(events, 1), 4)
    manifest.read_only_rate = round(totals.pop("read_only", 0) / max(events, 1), 4)
    manifest.identity_types = dict(sorted(totals.items()))
    manifest.event_names = len({t.record["eventName"] for t in _MODEL.templates})
    manifest.seconds = round(time.perf_counter() - t0, 2)
    (out / "manifest.json").write_text(json.dumps(asdict(manifest), indent=1) + "\n")
    return manifest


def load_manifest(out: Path) -> Manifest | None:
    try:
        data = json.loads((out / "manifest.json").read_text())
        return Manifest(**data)
    except (OSError, ValueError, TypeError):
        return None


def log_files(out: Path) -> list[Path]:
    """The generated log files under `out`, in a stable order."""
    return sorted((out / "AWSLogs").rglob("*.json.gz"))


def parse_count(text: str) -> int:
    """'200k', '1M', '1_000_000', '2.5m' -> int."""
    t = text.strip().lower().replace("_", "")
    mult = 1
    if t and t[-1] in "km":
        mult = 1000 if t[-1] == "k" else 1_000_000
        t = t[:-1]
    return int(float(t) * mult)


def ensure(out: Path, events: int, opts: Options, workers: int | None = None,
           quiet: bool = False) -> Manifest:
    """Reuse `out` if it already holds exactly this data set, else (re)generate it."""
    have = load_manifest(out)
    if (have is not None and have.events == events and have.options == asdict(opts)
            and have.generator_version == GENERATOR_VERSION
            and len(log_files(out)) == have.files):
        return have
    if (out / "AWSLogs").exists():
        for path in log_files(out):
            path.unlink()
    return generate(out, events, opts, workers, quiet=quiet)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.generate",
                                 description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--events", default="200k", help="number of records: 10k … 10M (default 200k)")
    ap.add_argument("--out", type=Path, default=None, help="output directory "
                    "(default bench/out/data-<events>)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--s3-data-events", type=float, default=0.0, metavar="SHARE",
                    help="share of S3 data events (GetObject, PutObject, ...), e.g. 0.3")
    ap.add_argument("--errors", type=float, default=0.07, help="share of failed calls")
    ap.add_argument("--malformed", type=float, default=0.0, metavar="SHARE",
                    help="share of malformed records, a fifth of them invalid JSON")
    ap.add_argument("--gzip-level", type=int, default=6)
    ap.add_argument("--min-records", type=int, default=300)
    ap.add_argument("--max-records", type=int, default=20000)
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args(argv)
    events = parse_count(args.events)
    out = args.out or Path(__file__).parent / "out" / f"data-{args.events}"
    opts = Options(seed=args.seed, s3_data=args.s3_data_events, errors=args.errors,
                   malformed=args.malformed, gzip_level=args.gzip_level,
                   min_records=args.min_records, max_records=args.max_records)
    m = ensure(out, events, opts, args.workers)
    print(f"{m.events} events in {m.files} files under {out} "
          f"({m.compressed_bytes / 1e6:.1f} MB gz, {m.decompressed_bytes / 1e6:.1f} MB JSON) "
          f"in {m.seconds:.1f}s; errors {m.error_rate:.1%}, read-only {m.read_only_rate:.1%}, "
          f"malformed {m.malformed}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
