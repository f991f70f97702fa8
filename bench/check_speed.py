"""Benchmark: how long `ctrules check` takes on a large rule set.

Generates N realistic rules (default 1,000) spread over files of 100, with shared lists and macros,
summaries, tags, examples, ignores and routes, then times `check_sources` (parse + every check,
including the CloudTrail catalog checks when present). The target is well under a second per 100
rules.

    .venv/bin/python bench/check_speed.py [--rules 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import time

from ctrules.checks import check_sources
from ctrules.checks_schema import schema_findings
from ctrules.parser import parse

RULE_NAME = re.compile(r"^rule (\w+)", re.MULTILINE)

SERVICES: dict[str, list[str]] = {
    "cloudtrail.amazonaws.com": ["StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors"],
    "iam.amazonaws.com": ["CreateUser", "AttachUserPolicy", "CreateAccessKey", "PutRolePolicy",
                          "DeleteRolePolicy", "UpdateAssumeRolePolicy"],
    "s3.amazonaws.com": ["PutBucketPolicy", "DeleteBucketPolicy", "PutBucketAcl",
                         "PutBucketPublicAccessBlock"],
    "ec2.amazonaws.com": ["AuthorizeSecurityGroupIngress", "ModifySnapshotAttribute",
                          "CreateKeyPair", "RunInstances"],
    "kms.amazonaws.com": ["DisableKey", "ScheduleKeyDeletion", "PutKeyPolicy"],
    "lambda.amazonaws.com": ["UpdateFunctionCode20150331v2", "AddPermission20150331v2"],
}


def shared_declarations() -> str:
    lines = [
        'list office_ips = ["203.0.113.7", "203.0.113.8"]',
        'list break_glass_users = ["alice", "bob"]',
        "macro failed = errorCode exists",
        "macro succeeded = not failed",
        "macro is_write = readOnly == false",
        'macro is_root = userIdentity.type == "Root"',
        "macro from_console = sessionCredentialFromConsole == \"true\"",
        "macro important_write = succeeded and is_write",
    ]
    for service in SERVICES:
        short = service.split(".")[0]
        lines.append(f'macro on_{short} = eventSource == "{service}"')
    return "\n".join(lines) + "\n"


def one_rule(i: int, rng: random.Random) -> str:
    service = rng.choice(list(SERVICES))
    short = service.split(".")[0]
    names = rng.sample(SERVICES[service], k=min(len(SERVICES[service]), rng.randint(1, 3)))
    name_list = ", ".join(f'"{n}"' for n in names)
    clauses = [f"on_{short}", f"eventName in [{name_list}]", "important_write"]
    extra = rng.choice([
        'userIdentity.arn matches r"^arn:aws:iam::\\d{12}:user/"',
        'sourceIPAddress not in cidr("10.0.0.0/8", "192.168.0.0/16", "2001:db8::/32")',
        "sourceIPAddress not in office_ips",
        "userIdentity.userName not in break_glass_users",
        'any resources (type == "AWS::S3::Bucket" and ARN startswith "arn:aws:s3:::prod-")',
        'lower(userAgent) contains "terraform"',
        'requestParameters.policyArn endswith "/AdministratorAccess"',
        'not (userIdentity.sessionContext.sessionIssuer.userName glob "ci-*")',
        "len(requestParameters.ipPermissions.items) > 0",
        "is_root or from_console",
    ])
    clauses.append(extra)
    when = "\n     and ".join(clauses)
    severity = rng.choice(["low", "medium", "high", "critical"])
    return f"""
rule r{i:04d}_{short} {{
    severity    {severity}
    description "Generated rule {i} watching {short}."
    tags        ["{short}", "bench"]
    summary     "{{userIdentity.arn}} called {{eventName}} on {service} in {{awsRegion}}"
    when {when}
    example "hit" match {{"eventSource": "{service}", "eventName": "{names[0]}", "readOnly": false}}
    example "miss" no match {{"eventSource": "{service}", "eventName": "Describe"}}
}}
"""


def rule_set(count: int, per_file: int = 100, seed: int = 7) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    sources = [("shared.ctr", shared_declarations())]
    for start in range(0, count, per_file):
        body = "".join(one_rule(i, rng) for i in range(start, min(count, start + per_file)))
        sources.append((f"rules_{start // per_file:03d}.ctr", body))
    sources.append(("policy.ctr", """
ignore ci_probes {
    reason  "CI role checks its permissions on every plan"
    owner   "platform-team"
    expires "2099-06-30"
    rules   [NAMES]
    when    userIdentity.sessionContext.sessionIssuer.userName == "ci-terraform"
}
route pager { when rule.severity >= high to ["pager", "security"] }
route everything { when true to "archive" }
""".replace("NAMES", ", ".join(RULE_NAME.findall("".join(t for _, t in sources))[:20]))))
    return sources


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rules", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    sources = rule_set(args.rules)
    lines = sum(text.count("\n") for _, text in sources)

    _, findings = check_sources(sources)  # warm-up: grammar, catalog, imports
    problems = [d for d in findings if d.is_error]
    if problems:
        raise SystemExit(f"generated rule set has errors: {problems[:3]}")

    files = [parse(text, filename).file for filename, text in sources]
    totals, parses, cpus, lints = [], [], [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        for filename, text in sources:
            parse(text, filename)
        t1 = time.perf_counter()
        c1 = time.process_time()
        check_sources(sources)
        t2 = time.perf_counter()
        cpus.append(time.process_time() - c1)
        c2 = time.process_time()
        schema_findings(files)  # its share of check_sources (CTR114-CTR116)
        lints.append(time.process_time() - c2)
        parses.append(t1 - t0)
        totals.append(t2 - t1)
    best, median = min(totals), statistics.median(totals)
    per100 = median / args.rules * 100
    print(f"rule set: {args.rules} rules, {len(sources)} files, {lines} lines, "
          f"{len(findings)} warnings")
    print(f"check_sources: median {median:.3f} s, best {best:.3f} s over {args.repeat} runs")
    print(f"  CPU time: median {statistics.median(cpus):.3f} s (wall time suffers on a busy machine)")
    print(f"  parsing alone (wall): median {statistics.median(parses):.3f} s")
    print(f"  schema lint alone (CPU): median {statistics.median(lints):.3f} s")
    print(f"per 100 rules: {per100 * 1000:.1f} ms (target: well under 1000 ms)")


if __name__ == "__main__":
    main()
