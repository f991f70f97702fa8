"""Representative CloudTrail records for the delivery tests (shapes as CloudTrail writes them)."""

from __future__ import annotations

from typing import Any

PROD = "111111111111"
DEV = "222222222222"
SSO_ROLE = "AWSReservedSSO_Admin_0123456789abcdef"
SSO_PATH = "aws-reserved/sso.amazonaws.com"


def _base(name: str, source: str, account: str = PROD, n: int = 0) -> dict[str, Any]:
    return {
        "eventVersion": "1.08",
        "eventTime": f"2026-03-14T09:{26 + n // 60 % 30:02d}:{n % 60:02d}Z",
        "eventSource": source,
        "eventName": name,
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "198.51.100.23",
        "userAgent": "aws-cli/2.15.30 Python/3.11.8 Linux/6.1 exe/x86_64.amzn.2",
        "requestID": f"req-{n:06d}",
        "eventID": f"0b1e6f3a-0000-4000-8000-{n:012d}",
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }


def root_login() -> dict[str, Any]:
    event = _base("ConsoleLogin", "signin.amazonaws.com", n=1)
    event.update(
        {
            "eventType": "AwsConsoleSignIn",
            "userIdentity": {
                "type": "Root",
                "principalId": PROD,
                "arn": f"arn:aws:iam::{PROD}:root",
                "accountId": PROD,
            },
            "awsRegion": "us-east-1",
            "sourceIPAddress": "203.0.113.66",
            "userAgent": "Mozilla/5.0 (X11; Linux x86_64; rv:124.0) Gecko/20100101 Firefox/124.0",
            "requestParameters": None,
            "responseElements": {"ConsoleLogin": "Success"},
            "additionalEventData": {
                "LoginTo": "https://console.aws.amazon.com/console/home",
                "MobileVersion": "No",
                "MFAUsed": "Yes",
            },
        }
    )
    return event


def console_login_without_mfa() -> dict[str, Any]:
    event = _base("ConsoleLogin", "signin.amazonaws.com", n=2)
    event.update(
        {
            "eventType": "AwsConsoleSignIn",
            "userIdentity": {
                "type": "IAMUser",
                "principalId": "AIDACKCEVSQ6C2EXAMPLE",
                "arn": f"arn:aws:iam::{PROD}:user/anaya",
                "accountId": PROD,
                "userName": "anaya",
            },
            "requestParameters": None,
            "responseElements": {"ConsoleLogin": "Success"},
            "additionalEventData": {
                "LoginTo": "https://console.aws.amazon.com/s3",
                "MobileVersion": "No",
                "MFAUsed": "No",
            },
        }
    )
    return event


def access_denied(n: int, buckets: int = 5, account: str = DEV) -> dict[str, Any]:
    event = _base("GetObject", "s3.amazonaws.com", account=account, n=n)
    bucket = f"team-data-{n % buckets}"
    event.update(
        {
            "userIdentity": {
                "type": "AssumedRole",
                "principalId": "AROAEXAMPLEID:gha-run-8812",
                "arn": f"arn:aws:sts::{account}:assumed-role/ci/gha-run-8812",
                "accountId": account,
                "accessKeyId": f"ASIAEXAMPLE{n:06d}",
                "sessionContext": {
                    "sessionIssuer": {
                        "type": "Role",
                        "arn": f"arn:aws:iam::{account}:role/ci",
                        "userName": "ci",
                    },
                    "attributes": {
                        "creationDate": "2026-03-14T09:20:00Z",
                        "mfaAuthenticated": "false",
                    },
                },
            },
            "eventCategory": "Data",
            "managementEvent": False,
            "readOnly": True,
            "errorCode": "AccessDenied",
            "errorMessage": "Access Denied",
            "requestParameters": {"bucketName": bucket, "key": f"exports/part-{n:05d}.parquet"},
            "responseElements": None,
            "resources": [
                {
                    "type": "AWS::S3::Object",
                    "ARN": f"arn:aws:s3:::{bucket}/exports/part-{n:05d}.parquet",
                },
                {"accountId": account, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"},
            ],
        }
    )
    return event


def security_group_change() -> dict[str, Any]:
    event = _base("AuthorizeSecurityGroupIngress", "ec2.amazonaws.com", n=3)
    event.update(
        {
            "userIdentity": {
                "type": "AssumedRole",
                "principalId": "AROAEXAMPLEID:jdoe@example.com",
                "arn": f"arn:aws:sts::{PROD}:assumed-role/{SSO_ROLE}/jdoe@example.com",
                "accountId": PROD,
                "accessKeyId": "ASIAEXAMPLESSO00001",
                "sessionContext": {
                    "sessionIssuer": {
                        "type": "Role",
                        "arn": f"arn:aws:iam::{PROD}:role/{SSO_PATH}/{SSO_ROLE}",
                        "userName": SSO_ROLE,
                    },
                    "attributes": {
                        "creationDate": "2026-03-14T08:00:00Z",
                        "mfaAuthenticated": "false",
                    },
                },
            },
            "requestParameters": {
                "groupId": "sg-0a1b2c3d4e5f67890",
                "ipPermissions": {
                    "items": [
                        {
                            "ipProtocol": "tcp",
                            "fromPort": 22,
                            "toPort": 22,
                            "groups": {},
                            "ipRanges": {
                                "items": [
                                    {"cidrIp": "0.0.0.0/0", "description": "temp <debug> & test"}
                                ]
                            },
                            "ipv6Ranges": {},
                            "prefixListIds": {},
                        }
                    ]
                },
            },
            "responseElements": {
                "requestId": "6c2b1d3e-1111-2222-3333-444455556666",
                "_return": True,
                "securityGroupRuleSet": {
                    "items": [
                        {
                            "groupOwnerId": PROD,
                            "groupId": "sg-0a1b2c3d4e5f67890",
                            "securityGroupRuleId": "sgr-0123456789abcdef0",
                            "isEgress": False,
                            "ipProtocol": "tcp",
                            "fromPort": 22,
                            "toPort": 22,
                            "cidrIpv4": "0.0.0.0/0",
                        }
                    ]
                },
            },
        }
    )
    return event


def huge_run_instances(count: int = 400) -> dict[str, Any]:
    """A RunInstances with hundreds of instances: ~400 KB of response elements."""
    event = _base("RunInstances", "ec2.amazonaws.com", n=4)
    event["userIdentity"] = {
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLEID:terraform",
        "arn": f"arn:aws:sts::{PROD}:assumed-role/terraform-apply/terraform",
        "accountId": PROD,
        "accessKeyId": "ASIAEXAMPLETF000001",
    }
    event["userAgent"] = "APN/1.0 HashiCorp/1.0 Terraform/1.7.5 (+https://www.terraform.io) " * 4
    event["requestParameters"] = {
        "instancesSet": {
            "items": [{"imageId": "ami-0abcdef1234567890", "minCount": count, "maxCount": count}]
        },
        "instanceType": "m7i.48xlarge",
        "blockDeviceMapping": {},
        "monitoring": {"enabled": False},
        "disableApiTermination": False,
        "userData": "<sensitiveDataRemoved>",
        "tagSpecificationSet": {
            "items": [
                {
                    "resourceType": "instance",
                    "tags": [{"key": f"tag{i}", "value": "x" * 40} for i in range(40)],
                }
            ]
        },
    }
    event["responseElements"] = {
        "requestId": "e5b0b8a1-aaaa-bbbb-cccc-ddddeeeeffff",
        "reservationId": "r-0123456789abcdef0",
        "ownerId": PROD,
        "groupSet": {},
        "instancesSet": {
            "items": [
                {
                    "instanceId": f"i-{i:017x}",
                    "imageId": "ami-0abcdef1234567890",
                    "instanceState": {"code": 0, "name": "pending"},
                    "privateDnsName": f"ip-10-0-{i // 250}-{i % 250}.eu-west-1.compute.internal",
                    "amiLaunchIndex": i,
                    "productCodes": {},
                    "instanceType": "m7i.48xlarge",
                    "launchTime": 1710408400000,
                    "placement": {"availabilityZone": "eu-west-1a", "tenancy": "default"},
                    "monitoring": {"state": "disabled"},
                    "subnetId": "subnet-0123456789abcdef0",
                    "vpcId": "vpc-0123456789abcdef0",
                    "privateIpAddress": f"10.0.{i // 250}.{i % 250}",
                    "stateReason": {"code": "pending", "message": "pending"},
                    "architecture": "x86_64",
                    "rootDeviceType": "ebs",
                    "rootDeviceName": "/dev/xvda",
                    "blockDeviceMapping": {},
                    "virtualizationType": "hvm",
                    "hypervisor": "xen",
                    "networkInterfaceSet": {
                        "items": [{"networkInterfaceId": f"eni-{i:017x}", "status": "in-use"}]
                    },
                }
                for i in range(count)
            ]
        },
    }
    return event
