"""Shared helpers for the delivery tests: the rule set under test and a deployment env."""

from __future__ import annotations

from tests.support.slack_server import SlackServer

RULES = """
rule root_login {
    severity critical
    description "Someone signed in as the account root user."
    tags ["initial-access"]
    summary "Root user console login from {sourceIPAddress}"
    when eventName == "ConsoleLogin" and userIdentity.type == "Root"
}

rule console_login_without_mfa {
    severity high
    summary "Console login without MFA by {userIdentity.arn}"
    when eventName == "ConsoleLogin" and userIdentity.type == "IAMUser"
         and additionalEventData.MFAUsed == "No"
         and responseElements.ConsoleLogin == "Success"
}

rule access_denied {
    severity low
    summary "{errorCode} on {eventSource} {eventName} by {userIdentity.arn}"
    when errorCode in ["AccessDenied", "Client.UnauthorizedOperation"]
}

rule security_group_opened {
    severity high
    tags ["network"]
    summary "{userIdentity.arn} opened {requestParameters.groupId} to \
{requestParameters.ipPermissions.items.ipRanges.items.cidrIp}"
    when eventName == "AuthorizeSecurityGroupIngress"
}

rule instances_launched {
    severity medium
    summary "{userIdentity.arn} launched instances in {awsRegion}"
    when eventName == "RunInstances" and not errorCode exists
}

route production {
    when recipientAccountId == "111111111111" and rule.severity >= high
    to ["prod-security", "audit"]
}

route network_team {
    when rule.tags == "network"
    to "network"
}

route nowhere {
    when rule.name == "instances_launched" and awsRegion == "ap-south-1"
    to "not-configured-anywhere"
}
"""


def slack_env(server: SlackServer, **overrides: str) -> dict[str, str]:
    """A deployment's environment pointing at the local Slack, with fast retries."""
    import json

    env = {
        "CTRULES_SLACK_DESTINATIONS": json.dumps(
            {
                "default": server.webhook_url("default"),
                "prod-security": server.webhook_url("prod"),
                "network": server.webhook_url("network"),
                "audit": "CAUDIT0001",
            }
        ),
        "CTRULES_SLACK_BOT_TOKEN": server.token,
        "CTRULES_SLACK_API_URL": server.api_url,
        "CTRULES_ACCOUNT_NAMES": '{"111111111111": "prod", "222222222222": "dev"}',
        "CTRULES_SLACK_RATE": "1000",
        "CTRULES_SLACK_BURST": "1000",
        "CTRULES_SLACK_TIMEOUT": "0.5",
        "CTRULES_SLACK_MAX_RETRIES": "2",
        "CTRULES_SLACK_BACKOFF": "0.01",
        "CTRULES_SLACK_MAX_RETRY_AFTER": "2",
    }
    env.update(overrides)
    return env
