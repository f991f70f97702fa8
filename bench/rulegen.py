"""Bench — generated realistic rule sets of any size, as .ctr text and as hand-written Python.

Detection rules in real packs name the API calls they watch (Sigma, Falco, the AWS-native packs
all do): an event name or a short list of them, sometimes a service and a name prefix, plus a
condition on the caller, the error, the parameters or the resources. The generator draws such
rules over the whole event-name catalogue (mostly write calls, some reads), with ten condition
shapes. Each rule also comes as a Python function over the nested record, built from closures
(baseline B at N rules), so both sides evaluate exactly the same rules.

Rules are drawn in a fixed order from a seeded generator, so the first 10 of 1,000 are the
10-rule set: cost-vs-count curves compare nested sets.
"""

from __future__ import annotations

import ipaddress
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.catalog import CATALOG, is_read

Predicate = Callable[[dict[str, Any]], bool]


@dataclass(frozen=True)
class GenRule:
    name: str
    ctr: str
    python: Predicate
    # The event names the rule can match (None: any name) — what a programmer indexing
    # hand-written rules by eventName would key them on.
    names: frozenset[str] | None = None


def _d(value: Any) -> dict[str, Any]:
    return value if type(value) is dict else {}


def _q(text: str) -> str:
    return json.dumps(text)


_PRIVATE = [ipaddress.ip_network(c) for c in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]
_APPROVED = ["ci-terraform", "deploy-pipeline"]
_DENIED = ["AccessDenied", "AccessDeniedException", "Client.UnauthorizedOperation"]
# Calls that are not reads by name but happen constantly, made by machines: rules treat them
# like reads (an allow-list rule on AssumeRole would alert on a large share of all traffic).
_BUSY = {"AssumeRole", "AssumeRoleWithWebIdentity", "AssumeRoleWithSAML", "Decrypt", "Encrypt",
         "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncrypt",
         "UpdateInstanceInformation", "PutInventory", "PutComplianceItems", "BatchGetImage",
         "GetAuthorizationToken", "PutMetricData", "SubmitTaskStateChange",
         "DiscoverPollEndpoint", "PutEvaluations", "StartQuery"}


# Rules not keyed on eventName (a fifth of the set): who, from where, with what, on what.
_USERS = ["contractor-", "intern-", "old-ci-", "temp-admin-", "audit-"]
_AGENT_PATTERNS = ["(?i)sqlmap", "(?i)nikto", "(?i)kali", "(?i)parrot", "^python-requests/",
                   "^curl/", "(?i)pacu", "(?i)masscan", "^Go-http-client/", "(?i)scoutsuite",
                   "(?i)nmap[ /]"]
_BUCKET_WORDS = ["prod-", "backup-", "finance-", "logs-", "secrets-", "customer-", "pii-",
                 "legal-", "audit-", "hr-"]
_ERRORS = ["AccessDenied", "AccessDeniedException", "Client.UnauthorizedOperation",
           "UnauthorizedOperation", "InvalidClientTokenId", "SignatureDoesNotMatch",
           "ExpiredToken", "NoSuchBucket", "ThrottlingException", "ValidationException"]


def _anywhere_rule(i: int, rng: random.Random) -> GenRule:
    kind = 10 + rng.randrange(5)
    cond: str
    py: Predicate
    if kind == 10:
        user = rng.choice(_USERS)
        users = [user + str(rng.randrange(100)) if user.endswith("-") else user,
                 f"departed-{rng.randrange(10000)}"]
        cond = f"userIdentity.userName in [{', '.join(_q(u) for u in users)}]"

        def py(e: dict[str, Any]) -> bool:
            return _d(e.get("userIdentity")).get("userName") in users
    elif kind == 11:
        a, b = rng.randrange(1, 224), rng.randrange(256)
        net = ipaddress.ip_network(f"{a}.{b}.{rng.randrange(256)}.0/{rng.choice([16, 24, 28])}",
                                   strict=False)
        cond = f"sourceIPAddress in cidr({_q(str(net))})"

        def py(e: dict[str, Any]) -> bool:
            ip = e.get("sourceIPAddress")
            if type(ip) is not str:
                return False
            try:
                addr = ipaddress.ip_address(ip)
            except ValueError:
                return False
            return addr.version == net.version and addr in net
    elif kind == 12:
        pattern = rng.choice(_AGENT_PATTERNS)
        regex = re.compile(pattern)
        cond = f"userAgent matches {_q(pattern)}"

        def py(e: dict[str, Any]) -> bool:
            ua = e.get("userAgent")
            return type(ua) is str and regex.search(ua) is not None
    elif kind == 13:
        prefix = rng.choice(_BUCKET_WORDS) + rng.choice(["", "eu-", "us-", "data-"])
        cond = f"requestParameters.bucketName startswith {_q(prefix)}"

        def py(e: dict[str, Any]) -> bool:
            bucket = _d(e.get("requestParameters")).get("bucketName")
            return type(bucket) is str and bucket.startswith(prefix)
    else:
        code = rng.choice(_ERRORS)
        cond = f"errorCode == {_q(code)} and userIdentity.type == \"IAMUser\""

        def py(e: dict[str, Any]) -> bool:
            return e.get("errorCode") == code and \
                _d(e.get("userIdentity")).get("type") == "IAMUser"
    severity = rng.choice(["low", "medium", "high"])
    rule_name = f"gen_{i:04d}_any_{kind}"
    text = (f"rule {rule_name} {{\n    severity {severity}\n"
            f"    description {_q(f'Generated benchmark rule {i} ({kind}).')}\n"
            f"    when {cond}\n}}\n")
    return GenRule(rule_name, text, py, None)


def _rule(i: int, rng: random.Random, names: list[tuple[str, str]],
          reads: list[tuple[str, str]]) -> GenRule:
    if i % 5 == 4:
        return _anywhere_rule(i, rng)
    read_rule = rng.random() < 0.2
    if read_rule:
        # Rules on read or busy calls watch denials and root only: a rule that fires on a share
        # of all reads (throttling, every IAM user) would not survive a week in production.
        source, name = rng.choice(reads)
        kind = rng.choice([1, 9])
    else:
        source, name = rng.choice(names)
        kind = rng.randrange(10)
    callers = ("Root",) if read_rule else ("Root", "IAMUser")
    rule_name = f"gen_{i:04d}_{name.lower()[:40]}"
    head = f"eventName == {_q(name)}"

    def on_name(e: dict[str, Any]) -> bool:
        return e.get("eventName") == name

    cond: str
    py: Predicate
    if kind == 0:
        cond = f"eventSource == {_q(source)} and {head} and errorCode exists"

        def py(e: dict[str, Any]) -> bool:
            return e.get("eventSource") == source and e.get("eventName") == name and \
                "errorCode" in e
    elif kind == 1:
        cond = f"{head} and userIdentity.type in [{', '.join(_q(c) for c in callers)}]"

        def py(e: dict[str, Any]) -> bool:
            return on_name(e) and _d(e.get("userIdentity")).get("type") in callers
    elif kind == 2:
        same = [n for s, n in names if s == source]
        group = sorted({name, *rng.sample(same, min(2, len(same)))})
        group_set = frozenset(group)
        cond = (f"eventName in [{', '.join(_q(n) for n in group)}] and "
                f'not (userIdentity.arn contains "assumed-role/ci-terraform/")')

        def py(e: dict[str, Any]) -> bool:
            n = e.get("eventName")
            if type(n) is not str or n not in group_set:
                return False
            arn = _d(e.get("userIdentity")).get("arn")
            return not (type(arn) is str and "assumed-role/ci-terraform/" in arn)
    elif kind == 3:
        cond = (f"{head} and userIdentity.sessionContext.sessionIssuer.userName not in "
                f"[{', '.join(_q(n) for n in _APPROVED)}]")

        def py(e: dict[str, Any]) -> bool:
            issuer = _d(_d(_d(e.get("userIdentity")).get("sessionContext")).get("sessionIssuer"))
            return on_name(e) and issuer.get("userName") not in _APPROVED
    elif kind == 4:
        cond = f'{head} and lower(userAgent) contains "terraform"'

        def py(e: dict[str, Any]) -> bool:
            ua = e.get("userAgent")
            return on_name(e) and type(ua) is str and "terraform" in ua.lower()
    elif kind == 5:
        cond = (f'{head} and sourceIPAddress not in cidr("10.0.0.0/8", "172.16.0.0/12", '
                f'"192.168.0.0/16")')

        def py(e: dict[str, Any]) -> bool:
            if not on_name(e):
                return False
            ip = e.get("sourceIPAddress")
            if type(ip) is not str:
                return True
            try:
                addr = ipaddress.ip_address(ip)
            except ValueError:
                return True
            return not any(addr.version == net.version and addr in net for net in _PRIVATE)
    elif kind == 6:
        cond = f'{head} and readOnly == false and userIdentity.type != "AWSService"'

        def py(e: dict[str, Any]) -> bool:
            return on_name(e) and e.get("readOnly") is False and \
                _d(e.get("userIdentity")).get("type") != "AWSService"
    elif kind == 7:
        prefix = rng.choice(["Delete", "Put", "Update", "Create", "Disable"])
        cond = (f"eventSource == {_q(source)} and eventName startswith {_q(prefix)} "
                f'and errorCode in [{", ".join(_q(c) for c in _DENIED)}]')
        rule_name = f"gen_{i:04d}_{source.split('.')[0].replace('-', '_')}_{prefix.lower()}_denied"

        def py(e: dict[str, Any]) -> bool:
            n = e.get("eventName")
            return e.get("eventSource") == source and type(n) is str and \
                n.startswith(prefix) and e.get("errorCode") in _DENIED
    elif kind == 8:
        cond = (f"{head} and any resources (type == \"AWS::S3::Bucket\" and ARN startswith "
                f'"arn:aws:s3:::prod-")')

        def py(e: dict[str, Any]) -> bool:
            if not on_name(e):
                return False
            res = e.get("resources")
            if type(res) is not list:
                res = [res] if type(res) is dict else []
            for r in res:
                if type(r) is dict and r.get("type") == "AWS::S3::Bucket":
                    arn = r.get("ARN")
                    if type(arn) is str and arn.startswith("arn:aws:s3:::prod-"):
                        return True
            return False
    else:
        cond = f'{head} and errorCode in [{", ".join(_q(c) for c in _DENIED)}]'

        def py(e: dict[str, Any]) -> bool:
            return on_name(e) and e.get("errorCode") in _DENIED
    severity = rng.choice(["low", "medium", "medium", "high", "critical"])
    text = (f"rule {rule_name} {{\n    severity {severity}\n"
            f"    description {_q(f'Generated benchmark rule {i} ({kind}).')}\n"
            f"    when {cond}\n}}\n")
    if kind == 2:
        names: frozenset[str] | None = group_set
    elif kind == 7:
        names = None
    else:
        names = frozenset([name])
    return GenRule(rule_name, text, py, names)


def generate_rules(count: int, seed: int = 7) -> list[GenRule]:
    """The first `count` rules of the seeded sequence (prefix-stable across counts)."""
    rng = random.Random(f"rules:{seed}")
    pairs = [(s, n) for s in sorted(CATALOG) for n in CATALOG[s]]
    writes = [p for p in pairs if not is_read(p[1]) and p[1] not in _BUSY]
    reads = [p for p in pairs if is_read(p[1]) or p[1] in _BUSY]
    return [_rule(i, rng, writes, reads) for i in range(count)]


def indexed(rules: list[GenRule]) -> Predicate:
    """Baseline B as a careful programmer would write it for many rules: a dict from eventName
    to that name's rules, plus the rules that apply to any name. Returns a function giving the
    list of matching rule names (empty list when none)."""
    by_name: dict[str, list[tuple[str, Predicate]]] = {}
    anywhere = [(r.name, r.python) for r in rules if r.names is None]
    for r in rules:
        for n in r.names or ():
            by_name.setdefault(n, []).append((r.name, r.python))
    order = {r.name: i for i, r in enumerate(rules)}
    for lst in by_name.values():
        # Keep declaration order, rules for any name included, so results compare one to one.
        lst.extend(anywhere)
        lst.sort(key=lambda item: order[item[0]])
    empty: list[tuple[str, Predicate]] = []

    def matches(e: dict[str, Any]) -> Any:
        name = e.get("eventName")
        candidates = by_name.get(name, anywhere) if type(name) is str else anywhere
        hits = empty
        for rule_name, rule in candidates:
            try:
                if rule(e):
                    if hits is empty:
                        hits = []
                    hits.append(rule_name)
            except Exception:
                pass
        return hits

    return matches


def write_rules(rules: list[GenRule], path: Path) -> Path:
    """One .ctr file holding the rules; returns its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (f"# {len(rules)} generated benchmark rules (bench/rulegen.py); "
              "regenerated on every run, not edited by hand.\n\n")
    path.write_text(header + "\n".join(r.ctr for r in rules))
    return path
