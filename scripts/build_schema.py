#!/usr/bin/env python3
"""Regenerate ctrules/data/schema.json — the one CloudTrail schema the checks read.

Build-time tool, not part of the runtime pipeline. It writes two things:

* ``record``: the layout of a CloudTrail record with the JSON type of every field CloudTrail
  itself defines (top level, ``userIdentity`` and its parts, ``tlsDetails``, ``resources``
  elements, ``addendum``, ``insightDetails``, …), from the AWS CloudTrail User Guide ("CloudTrail
  record contents", "CloudTrail userIdentity element", "CloudTrail Insights events") and checked
  against the real-log corpora. Objects CloudTrail defines are *closed* (an unknown key there is a
  typo); objects whose keys depend on the API (``requestParameters``, ``responseElements``,
  ``additionalEventData``, ``serviceEventDetails``, ``edgeDeviceDetails``, ``eventContext``) are
  *open*.
* ``services``: per AWS service, the ``eventSource`` names it logs as and, per event name, the
  top-level keys of ``requestParameters`` that CloudTrail can log:

  - the members of the operation's input shape in botocore's API model, for the protocols
    where CloudTrail logs the members by name (``json``, ``rest-json``, ``query``,
    ``smithy-rpc-v2-cbor``).
    CloudTrail writes a member ``UserName`` as ``userName`` (most services), ``UserName`` (some
    json services, e.g. Cost Explorer) or with a leading acronym lowered (``ARN`` → ``arn``), and
    a REST member bound to the URI sometimes by its wire name (EKS ``clusterName`` as ``name``);
    the data stores the names and `ctrules.schema` derives the spellings. The EC2 protocol
    (``instancesSet``, ``filterSet``, …) and REST-XML (S3 logs ``bucketName`` for ``Bucket``) spell
    their keys otherwise, so their models are not used; those events are *untrusted*;
  - plus every key seen in a real record of the corpora (``../shared/corpus/real``: the
    invictus-ir dataset and the AWS CloudTrail User Guide's example records; the fivexl cases;
    the bundled sample), for ``requestParameters``, ``responseElements`` and
    ``additionalEventData`` alike. (``tests/events`` holds records from the same corpora.)

  The corpora cover one account's activity, so a key set that comes only from them is
  incomplete; such events are marked untrusted and the lint only reports a key that differs from
  a known one by letter case. botocore's output shapes are not used for ``responseElements``:
  the corpora show CloudTrail unwrapping them (RDS logs the fields of ``DBInstance`` directly).

    .venv/bin/python scripts/build_schema.py            # rewrite the shipped schema
    .venv/bin/python scripts/build_schema.py --check    # exit 1 if it is out of date
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import botocore
import botocore.loaders

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = ROOT / "ctrules" / "data" / "schema.json"
CORPORA = (
    ROOT.parent / "shared" / "corpus" / "real" / "invictus_aws_dataset.jsonl",
    ROOT.parent / "shared" / "corpus" / "real" / "aws_userguide_examples.jsonl",
    ROOT.parent / "shared" / "corpus" / "fivexl" / "fivexl_cases.jsonl",
    ROOT / "rules" / "samples" / "sample.json.gz",
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_catalog import _event_names, _sources_for  # noqa: E402  (same source naming)
from generated_file import write_or_check  # noqa: E402

# Protocols whose input members CloudTrail logs by name (see the module docstring).
TRUSTED_PROTOCOLS = frozenset({"json", "rest-json", "query", "smithy-rpc-v2-cbor"})

# ---- the record layout -----------------------------------------------------------------------
# Types: "string", "boolean", "number", "object" (any keys, unknown types), or
# {"fields": {...}, "closed": bool} and {"items": TYPE}.

S, B, N, ANY = "string", "boolean", "number", "object"


def _closed(**fields: Any) -> dict[str, Any]:
    return {"fields": fields, "closed": True}


def _open(**fields: Any) -> dict[str, Any]:
    return {"fields": fields, "closed": False}


_ISSUER = _closed(type=S, principalId=S, arn=S, accountId=S, userName=S)
_AVERAGE = _closed(average=N)
_VALUE_AVERAGE = {"items": _closed(value=S, average=N)}

RECORD: dict[str, Any] = _closed(
    eventVersion=S, eventTime=S, eventSource=S, eventName=S, awsRegion=S, sourceIPAddress=S,
    userAgent=S, errorCode=S, errorMessage=S, requestID=S, eventID=S, eventType=S, apiVersion=S,
    readOnly=B, managementEvent=B, recipientAccountId=S, sharedEventID=S, vpcEndpointId=S,
    vpcEndpointAccountId=S, eventCategory=S,
    # CloudTrail writes this one as the *string* "true", not a boolean.
    sessionCredentialFromConsole=S,
    userIdentity=_closed(
        type=S, principalId=S, arn=S, accountId=S, accessKeyId=S, userName=S, invokedBy=S,
        identityProvider=S, credentialId=S,
        sessionContext=_closed(
            sessionIssuer=_ISSUER,
            webIdFederationData=_closed(federatedProvider=S, attributes=ANY),
            # Strings in CloudTrail ("true"/"false", an ISO time), not a boolean and a date.
            attributes=_closed(creationDate=S, mfaAuthenticated=S),
            sourceIdentity=S, ec2RoleDelivery=S, assumedRoot=S,
        ),
        # Requests made for an IAM Identity Center user (trusted identity propagation).
        onBehalfOf=_closed(userId=S, identityStoreArn=S, identityCenterInstanceArn=S,
                           subject=S, subjectType=S, issuer=S, federatedProviderArn=S),
        # Credentials an AWS service issued to a resource (e.g. a Lambda function's role).
        inScopeOf=_closed(sourceArn=S, sourceAccount=S, issuerType=S, credentialsIssuedTo=S),
    ),
    resources={"items": _closed(ARN=S, accountId=S, type=S)},
    tlsDetails=_closed(tlsVersion=S, cipherSuite=S, clientProvidedHostHeader=S),
    addendum=_closed(reason=S, updatedFields=S, originalRequestID=S, originalEventID=S),
    insightDetails=_closed(
        state=S, eventSource=S, eventName=S, errorCode=S, insightType=S,
        insightContext=_closed(
            statistics=_closed(baseline=_AVERAGE, insight=_AVERAGE, insightDuration=N,
                               baselineDuration=N),
            attributions={"items": _closed(attribute=S, insight=_VALUE_AVERAGE,
                                           baseline=_VALUE_AVERAGE)},
        ),
    ),
    requestParameters=ANY,
    # Sign-in events: "Success"/"Failure" (AWS sign-in events reference).
    responseElements=_open(ConsoleLogin=S),
    # Keys that many events share (sign-in events; S3 data events). Others vary per event.
    additionalEventData=_open(
        MFAUsed=S, LoginTo=S, MobileVersion=S, MFAIdentifier=S, MfaType=S,
        SignatureVersion=S, CipherSuite=S, AuthenticationMethod=S,
        bytesTransferredIn=N, bytesTransferredOut=N, **{"x-amz-id-2": S},
    ),
    serviceEventDetails=ANY,
    edgeDeviceDetails=ANY,
    eventContext=ANY,
)

# CloudTrail-defined fields whose values come from a fixed vocabulary of names and codes (event
# names, service hosts, identity and resource types, error codes, regions). A string literal that
# is the name of a record field is never one of them, so comparing one of these fields with
# "eventSource" is a mistake. Free-text fields (errorMessage, userAgent) and fields whose values
# *are* field names (addendum.updatedFields, Insights attributions) are deliberately absent.
NAME_VALUED = [
    "eventName", "eventSource", "eventType", "eventCategory", "errorCode", "awsRegion",
    "userIdentity.type", "userIdentity.invokedBy", "userIdentity.sessionContext.sessionIssuer.type",
    "resources.type",
]

_PARTS = ("requestParameters", "responseElements", "additionalEventData")


def _label(path: Path) -> str:
    """A corpus path as the project names it: relative to the project, `../shared/...` outside."""
    if path.is_relative_to(ROOT):
        return path.relative_to(ROOT).as_posix()
    return "../" + path.relative_to(ROOT.parent).as_posix()


# ---- learning keys ---------------------------------------------------------------------------


def _records(paths: Iterable[Path]) -> Iterator[dict[str, Any]]:
    for path in paths:
        if not path.exists():
            raise SystemExit(f"missing corpus {path}")
        if path.suffix == ".gz":
            data = json.loads(gzip.decompress(path.read_bytes()))
            yield from (r for r in data.get("Records", []) if isinstance(r, dict))
            continue
        for line in path.read_text("utf-8").splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            record = item.get("event", item) if "event" in item and "eventName" not in item \
                else item
            if isinstance(record, dict):
                yield record


def _seen_keys(paths: Iterable[Path]) -> dict[str, dict[str, dict[str, set[str]]]]:
    """eventSource → eventName → part → keys seen in real records."""
    seen: dict[str, dict[str, dict[str, set[str]]]] = {}
    for record in _records(paths):
        source, name = record.get("eventSource"), record.get("eventName")
        if not isinstance(source, str) or not isinstance(name, str):
            continue
        for part in _PARTS:
            value = record.get(part)
            if isinstance(value, dict) and value:
                seen.setdefault(source, {}).setdefault(name, {}).setdefault(part, set()).update(
                    value)
    return seen


def _member_names(shape: dict[str, Any]) -> set[str]:
    """An input shape's member names, and the wire names of members bound to the URI, query
    string or headers (REST services log those: EKS `clusterName` is `name` in the URI)."""
    names: set[str] = set()
    for member, ref in shape.get("members", {}).items():
        names.add(member)
        wire = ref.get("locationName")
        if ref.get("location") in ("uri", "querystring", "header") and isinstance(wire, str):
            names.add(wire)
    return names


def build() -> dict[str, Any]:
    loader = botocore.loaders.Loader()
    seen = _seen_keys(CORPORA)
    services: dict[str, Any] = {}
    claimed: set[str] = set()  # sources some service model names
    for service in sorted(loader.list_available_services("service-2")):
        model = loader.load_service_model(service, "service-2")
        metadata = model.get("metadata", {})
        sources = sorted(_sources_for(metadata))
        claimed.update(sources)
        trusted = metadata.get("protocol") in TRUSTED_PROTOCOLS
        shapes = model.get("shapes", {})
        events: dict[str, Any] = {}
        for op_name, op in model.get("operations", {}).items():
            shape = shapes.get(op.get("input", {}).get("shape", ""), {})
            members = sorted(_member_names(shape)) if trusted else []
            for name in sorted(_event_names(service, {op_name: op})):
                entry: dict[str, Any] = {}
                if trusted:
                    entry["request"] = members
                events[name] = entry
        for source in sources:
            for name, parts in seen.get(source, {}).items():
                entry = events.setdefault(name, {})
                for part, keys in parts.items():
                    tag = {"requestParameters": "seen_request",
                           "responseElements": "seen_response",
                           "additionalEventData": "seen_additional"}[part]
                    entry[tag] = sorted(set(entry.get(tag, ())) | keys)
        events = {k: v for k, v in sorted(events.items()) if v}
        services[service] = {"sources": sources, "trusted": trusted, "events": events}
    # Sources no model names (sign-in, Identity Center portal, ...): only what was seen.
    for source in sorted(set(seen) - claimed):
        events = {}
        for name, parts in sorted(seen[source].items()):
            events[name] = {
                {"requestParameters": "seen_request", "responseElements": "seen_response",
                 "additionalEventData": "seen_additional"}[part]: sorted(keys)
                for part, keys in sorted(parts.items())}
        services[f"({source})"] = {"sources": [source], "trusted": False, "events": events}
    return {
        "format": 1,
        "generated_from": {"botocore": botocore.__version__,
                           "corpora": [_label(p) for p in CORPORA]},
        "record": RECORD,
        "name_valued": NAME_VALUED,
        "services": services,
    }


def render(schema: dict[str, Any]) -> str:
    # Compact, but one service per line keeps diffs readable when botocore changes.
    def dump(value: Any) -> str:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    lines = ["{"]
    lines.append(f'"format":{dump(schema["format"])},')
    lines.append(f'"generated_from":{dump(schema["generated_from"])},')
    lines.append(f'"record":{dump(schema["record"])},')
    lines.append(f'"name_valued":{dump(schema["name_valued"])},')
    lines.append('"services":{')
    items = list(schema["services"].items())
    for i, (name, body) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        lines.append(f"{dump(name)}:{dump(body)}{comma}")
    lines.append("}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 if the schema is stale")
    parser.add_argument("--output", type=Path, default=SCHEMA_PATH)
    args = parser.parse_args(argv)
    schema = build()
    text = render(schema)
    if not write_or_check(args.output, text, args.check, "build_schema.py"):
        return 1
    if args.check:
        return 0
    services = schema["services"]
    events = sum(len(s["events"]) for s in services.values())
    trusted = sum(len(s["events"]) for s in services.values() if s["trusted"])
    print(f"wrote {args.output}: {len(services)} services, {events} events with keys "
          f"({trusted} from trusted models), {len(text)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
