"""Bench — the two baselines ctrules is measured against.

Baseline A is the method of the tool users migrate from (fivexl/terraform-aws-cloudtrail-to-slack):
flatten each event into one dict with '.'-joined keys (list elements by index), then call
``eval(rule_string, {}, {"event": flat})`` for every rule string, catching whatever it raises.
This is the only place in the repository that calls eval, and it exists to be measured against.

Baseline B is the best a careful Python programmer would write by hand: the same nine rules as
plain functions over the nested record, no flattening, no parsing at run time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

Predicate = Callable[[dict[str, Any]], bool]

FIVEXL_RULES = Path("/work/shared/corpus/fivexl/default_rules.json")

# The nine strings of fivexl's `default_rules` (src/rules.py, tag 4.5.1), in order; used when the
# corpus file is not on this machine. They are data here, never code.
_FALLBACK_RULES = [
    'event["eventName"] == "ConsoleLogin" and event.get("additionalEventData.MFAUsed", "") != '
    '"Yes" and "assumed-role/AWSReservedSSO" not in event.get("userIdentity.arn", "")',
    'event.get("errorCode", "").endswith(("UnauthorizedOperation"))',
    'event.get("errorCode", "").startswith(("AccessDenied"))and (event.get('
    '"userIdentity.accountId", "") != "ANONYMOUS_PRINCIPAL")',
    'event.get("userIdentity.type", "") == "Root" and not event["eventName"].startswith(('
    '"Get", "List", "Describe", "Head"))',
    'event["eventSource"] == "cloudtrail.amazonaws.com" and event["eventName"] == "StopLogging"',
    'event["eventSource"] == "cloudtrail.amazonaws.com" and event["eventName"] == "UpdateTrail"',
    'event["eventSource"] == "cloudtrail.amazonaws.com" and event["eventName"] == "DeleteTrail"',
    'event["eventSource"] == "lambda.amazonaws.com" and "responseElements.functionName" in event '
    'and event["responseElements.functionName"] == "fivexl-cloudtrail-to-slack" and '
    'event["eventName"].startswith(("UpdateFunctionConfiguration"))',
    'event["eventSource"] == "lambda.amazonaws.com" and "responseElements.functionName" in event '
    'and event["responseElements.functionName"] == "fivexl-cloudtrail-to-slack" and '
    'event["eventName"].startswith(("UpdateFunctionCode"))',
]

# Names of the nine rules, in the order of the strings; bench/rules/parity.ctr uses the same names.
PARITY_NAMES = [
    "console_login_without_mfa", "unauthorized_operation", "access_denied", "root_activity",
    "cloudtrail_stop_logging", "cloudtrail_update_trail", "cloudtrail_delete_trail",
    "alerting_lambda_configuration_changed", "alerting_lambda_code_changed",
]


def fivexl_rules() -> list[str]:
    for path in (FIVEXL_RULES,
                 Path(__file__).resolve().parents[2] / "shared/corpus/fivexl/default_rules.json"):
        if path.is_file():
            rules = json.loads(path.read_text())["default_rules"]
            return [str(r) for r in rules]
    return list(_FALLBACK_RULES)


# ---- baseline A -----------------------------------------------------------------------------


def flatten(value: Any) -> dict[str, Any]:
    """One level: nested keys joined with '.', list elements keyed by their index; a scalar at
    the top ends up under the empty key (what the migrated-from tool does)."""
    out: dict[str, Any] = {}

    def walk(x: Any, prefix: str) -> None:
        if type(x) is dict:
            for k, v in x.items():
                walk(v, prefix + k + ".")
        elif type(x) is list:
            for i, v in enumerate(x):
                walk(v, prefix + str(i) + ".")
        else:
            out[prefix[:-1]] = x

    walk(value, "")
    return out


def baseline_a(records: list[Any], rules: list[str], counts: list[int]) -> None:
    """The migrated-from tool's loop: flatten, then eval every rule string on every event."""
    for record in records:
        flat = flatten(record)
        for i, rule in enumerate(rules):
            try:
                # The method being measured: a rule string compiled and run per event.
                if eval(rule, {}, {"event": flat}) is True:  # noqa: S307
                    counts[i] += 1
            except Exception:  # the original logs and carries on
                pass


# ---- baseline B -----------------------------------------------------------------------------


def _d(value: Any) -> dict[str, Any]:
    return value if type(value) is dict else {}


def _console_login_without_mfa(e: dict[str, Any]) -> bool:
    if e.get("eventName") != "ConsoleLogin":
        return False
    if _d(e.get("additionalEventData")).get("MFAUsed") == "Yes":
        return False
    arn = _d(e.get("userIdentity")).get("arn")
    return not (type(arn) is str and "assumed-role/AWSReservedSSO" in arn)


def _unauthorized_operation(e: dict[str, Any]) -> bool:
    code = e.get("errorCode")
    return type(code) is str and code.endswith("UnauthorizedOperation")


def _access_denied(e: dict[str, Any]) -> bool:
    code = e.get("errorCode")
    return (type(code) is str and code.startswith("AccessDenied")
            and _d(e.get("userIdentity")).get("accountId") != "ANONYMOUS_PRINCIPAL")


def _root_activity(e: dict[str, Any]) -> bool:
    if _d(e.get("userIdentity")).get("type") != "Root":
        return False
    name = e.get("eventName")
    return not (type(name) is str and name.startswith(("Get", "List", "Describe", "Head")))


def _trail(name: str) -> Predicate:
    def rule(e: dict[str, Any]) -> bool:
        return e.get("eventSource") == "cloudtrail.amazonaws.com" and e.get("eventName") == name
    return rule


def _alerting_lambda(prefix: str) -> Predicate:
    def rule(e: dict[str, Any]) -> bool:
        if e.get("eventSource") != "lambda.amazonaws.com":
            return False
        if _d(e.get("responseElements")).get("functionName") != "fivexl-cloudtrail-to-slack":
            return False
        name = e.get("eventName")
        return type(name) is str and name.startswith(prefix)
    return rule


PARITY_B: list[tuple[str, Predicate]] = [
    ("console_login_without_mfa", _console_login_without_mfa),
    ("unauthorized_operation", _unauthorized_operation),
    ("access_denied", _access_denied),
    ("root_activity", _root_activity),
    ("cloudtrail_stop_logging", _trail("StopLogging")),
    ("cloudtrail_update_trail", _trail("UpdateTrail")),
    ("cloudtrail_delete_trail", _trail("DeleteTrail")),
    ("alerting_lambda_configuration_changed", _alerting_lambda("UpdateFunctionConfiguration")),
    ("alerting_lambda_code_changed", _alerting_lambda("UpdateFunctionCode")),
]


def baseline_b(records: list[Any], rules: list[tuple[str, Predicate]], counts: list[int]) -> None:
    """Every hand-written rule on every event (a non-object record is one with no fields)."""
    for record in records:
        if type(record) is not dict:
            record = {}
        for i, (_, rule) in enumerate(rules):
            try:
                if rule(record):
                    counts[i] += 1
            except Exception:
                pass
