#!/usr/bin/env python3
"""Regenerate ctrules/data/catalog.json — the CloudTrail catalog the linter checks rules against.

Build-time tool, not part of the runtime pipeline. It reads the AWS API models that botocore
already ships and writes, for every `eventSource`, the `eventName`s it can emit:

* `endpointPrefix` → `<prefix>.amazonaws.com` (also the signing name and the prefix without an
  `api.`/`runtime.`/`data.`/`streams.`/`portal.` head, because CloudTrail usually logs the service
  name, e.g. `api.ecr` → `ecr.amazonaws.com`, `email` → `ses.amazonaws.com`);
* operation names → event names (and the model's wire name when it differs, e.g. CloudFront's
  `UpdateDistribution2020_05_31`); Lambda also logs versioned names such as
  `UpdateFunctionCode20150331v2`, built from the date in the operation's request URI;
* events that are not API operations (`ConsoleLogin`, `CheckMfa`, `SwitchRole`, ...) and a few
  names seen in real logs that the models spell differently, listed below with where they come from.

The catalog errs on the side of knowing too many names: it exists to catch typos, so a name that
*might* be emitted must never be reported. Field types live in the schema
(scripts/build_schema.py).

    .venv/bin/python scripts/build_catalog.py            # rewrite the shipped catalog
    .venv/bin/python scripts/build_catalog.py --check    # exit 1 if it is out of date
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import botocore
import botocore.loaders
from generated_file import write_or_check

CATALOG_PATH = Path(__file__).resolve().parent.parent / "ctrules" / "data" / "catalog.json"

# Heads that name an API endpoint rather than the service CloudTrail reports.
_PREFIX_HEADS = ("api.", "runtime.", "data.", "streams.", "portal.", "data-")

# eventSource aliases the models do not reveal (service → also logged as).
_SOURCE_ALIASES: dict[str, tuple[str, ...]] = {
    "s3-control.amazonaws.com": ("s3.amazonaws.com",),  # S3 Control calls log as s3
    "oidc.amazonaws.com": ("sso.amazonaws.com", "sso-oauth.amazonaws.com"),
    "portal.sso.amazonaws.com": ("sso.amazonaws.com",),
    "identitystore.amazonaws.com": ("sso-directory.amazonaws.com",),
    "bedrock-runtime.amazonaws.com": ("bedrock.amazonaws.com",),
    "bedrock-agent-runtime.amazonaws.com": ("bedrock.amazonaws.com",),
    "monitoring.amazonaws.com": ("cloudwatch.amazonaws.com",),
}

# Events that are not API operations of any model: sign-in, Identity Center, service events.
# Sources: AWS CloudTrail User Guide ("AWS sign-in events", "IAM Identity Center events",
# "AWS service events") and the records in the shared real-log corpus.
_EXTRA_EVENTS: dict[str, tuple[str, ...]] = {
    "signin.amazonaws.com": (
        "ConsoleLogin",
        "ConsoleLogout",
        "CheckMfa",
        "SwitchRole",
        "ExitRole",
        "RenewRole",
        "GetSigninToken",
        "CredentialChallenge",
        "CredentialVerification",
        "UserAuthentication",
        "PasswordRecoveryRequested",
        "PasswordRecoveryCompleted",
        "PasswordUpdated",
        "FederatedLogin",
        "AuthorizeOAuth2Access",
        "CreateOAuth2Token",
    ),
    "sso.amazonaws.com": (
        "Authenticate",
        "Federate",
        "ListApplications",
        "ListProfilesForApplication",
        "GetRoleCredentials",
        "ListAccounts",
        "ListAccountRoles",
        "Logout",
        "CreateToken",
        "UserAuthentication",
        "CredentialChallenge",
        "CredentialVerification",
        "ConsoleLogin",
    ),
    "sso-directory.amazonaws.com": ("ListMfaDevicesForUser", "DescribeUsers", "SearchUsers"),
    "iam.amazonaws.com": ("PasswordUpdated", "ChangePassword"),
    "kms.amazonaws.com": ("RotateKey", "DeleteExpiredKeyMaterial", "DeleteKey"),
    "ec2.amazonaws.com": (
        "SharedSnapshotCopyInitiated",
        "SharedSnapshotVolumeCreated",
        "CreateNetworkInterface",
    ),
    "s3.amazonaws.com": (
        "PutBucketPublicAccessBlock",
        "GetBucketPublicAccessBlock",
        "DeleteBucketPublicAccessBlock",
        "GetAccountPublicAccessBlock",
        "PutAccountPublicAccessBlock",
        "DeleteAccountPublicAccessBlock",
        "GetBucketLifecycle",
        "PutBucketLifecycle",
        "DeleteBucketLifecycle",
        "GetBucketReplication",
        "GetBucketObjectLockConfiguration",
        "GetBucketPolicyStatus",
        "GetBucketWebsite",
        "GetBucketCors",
        "GetBucketVersioning",
        "GetBucketRequestPayment",
        "GetBucketTagging",
        "GetBucketNotification",
        "PutBucketNotification",
        "ListObjects",
        "ListObjectVersions",
        "GetAccelerateConfiguration",
        "GetStorageLensDashboardDataInternal",
    ),
    # Internal or service-initiated calls seen in the real-log corpus.
    "cloudtrail.amazonaws.com": ("CloudTrailInsight", "CreateServiceLinkedChannel"),
    "rds.amazonaws.com": ("DescribeRecommendationGroups", "DescribeRecommendations"),
    "ssm.amazonaws.com": (
        "ListInstanceAssociations",
        "UpdateInstanceAssociationStatus",
        "UpdateInstanceInformation",
    ),
    "secretsmanager.amazonaws.com": ("StartSecretVersionDelete", "EndSecretVersionDelete"),
    "health.amazonaws.com": ("AWS_HEALTH_EVENT",),
    "ec2-instance-connect.amazonaws.com": ("SendSSHPublicKey", "SendSerialConsoleSSHPublicKey"),
    "organizations.amazonaws.com": ("CreateAccountResult",),
}

def _sources_for(metadata: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for key in ("endpointPrefix", "signingName"):
        value = metadata.get(key)
        if not isinstance(value, str) or not value:
            continue
        names.add(value)
        for head in _PREFIX_HEADS:
            if value.startswith(head):
                names.add(value[len(head) :])
    sources = {f"{name}.amazonaws.com" for name in names}
    for source in list(sources):
        sources.update(_SOURCE_ALIASES.get(source, ()))
    return sources


_DATE_IN_URI = re.compile(r"^/(\d{4})-(\d{2})-(\d{2})/")


def _event_names(service: str, operations: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for op_name, op in operations.items():
        names.add(op_name)
        wire = op.get("name")
        if isinstance(wire, str) and wire:
            names.add(wire)
        if service == "lambda":
            # Lambda logs the API version in the event name: UpdateFunctionCode20150331v2.
            match = _DATE_IN_URI.match(op.get("http", {}).get("requestUri", ""))
            if match:
                dated = op_name + "".join(match.groups())
                names.update((dated, dated + "v2"))
    return names


def build() -> dict[str, Any]:
    loader = botocore.loaders.Loader()
    sources: dict[str, set[str]] = {}
    for service in sorted(loader.list_available_services("service-2")):
        model = loader.load_service_model(service, "service-2")
        names = _event_names(service, model.get("operations", {}))
        for source in _sources_for(model.get("metadata", {})):
            sources.setdefault(source, set()).update(names)
    for source, extra in _EXTRA_EVENTS.items():
        sources.setdefault(source, set()).update(extra)
    return {
        "format": 1,
        "generated_from": {"botocore": botocore.__version__},
        "event_sources": {src: sorted(names) for src, names in sorted(sources.items())},
    }


def render(catalog: dict[str, Any]) -> str:
    # One event source per line keeps diffs readable when botocore adds operations.
    lines = ["{"]
    lines.append(f'  "format": {json.dumps(catalog["format"])},')
    lines.append(f'  "generated_from": {json.dumps(catalog["generated_from"])},')
    lines.append('  "event_sources": {')
    items = list(catalog["event_sources"].items())
    for i, (src, names) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        lines.append(f"    {json.dumps(src)}: {json.dumps(names)}{comma}")
    lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 if the catalog is stale")
    parser.add_argument("--output", type=Path, default=CATALOG_PATH)
    args = parser.parse_args(argv)
    catalog = build()
    text = render(catalog)
    if not write_or_check(args.output, text, args.check, "build_catalog.py"):
        return 1
    if args.check:
        return 0
    total = sum(len(v) for v in catalog["event_sources"].values())
    print(f"wrote {args.output}: {len(catalog['event_sources'])} sources, {total} names")
    return 0


if __name__ == "__main__":
    sys.exit(main())
