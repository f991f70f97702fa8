"""Regenerates the sample payloads in this directory (run from the repository root:
`.venv/bin/python tests/events/generate.py`). The shapes follow the AWS documentation of each
notification; the CloudTrail records are real ones from ../shared/corpus (see README.md).
Committed outputs are what the tests read; this script documents how they were made."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

HERE = Path(__file__).parent
CORPUS = HERE.parents[2] / "shared" / "corpus" / "real"

BUCKET = "example-org-cloudtrail-logs"
KEY = (
    "security logs/AWSLogs/o-aa111bb222/111122223333/CloudTrail/us-east-1/2023/07/10/"
    "111122223333_CloudTrail_us-east-1_20230710T1145Z_Ex4mPLe0aBcD1234.json.gz"
)
ENCODED_KEY = KEY.replace(" ", "+")  # S3 notifications URL-encode keys ('+' for a space)
DIGEST_KEY = (
    "security logs/AWSLogs/o-aa111bb222/111122223333/CloudTrail-Digest/us-east-1/2023/07/10/"
    "111122223333_CloudTrail-Digest_us-east-1_main_us-east-1_20230710T114500Z.json.gz"
)
TOPIC = "arn:aws:sns:us-east-1:444455556666:cloudtrail-log-delivery"
QUEUE = "arn:aws:sqs:us-east-1:444455556666:ctrules-intake"


def corpus_records() -> list[dict[str, object]]:
    invictus = [json.loads(x) for x in (CORPUS / "invictus_aws_dataset.jsonl").open()]
    guide = [json.loads(x) for x in (CORPUS / "aws_userguide_examples.jsonl").open()]
    picked: list[dict[str, object]] = []
    wanted = {"DeleteParameter": 2, "GetUser": 2, "Decrypt": 1, "AssumeRole": 1}
    for r in invictus:
        name = str(r.get("eventName"))
        if wanted.get(name, 0) > 0 and "errorCode" not in r:
            picked.append(r)
            wanted[name] -= 1
    picked.extend([r for r in invictus if r.get("errorCode") == "AccessDenied"][:3])
    picked.extend([r for r in guide if r.get("eventName") == "UpdateTrail"][:1])
    picked.extend([r for r in guide if r.get("eventName") == "ConsoleLogin"][:2])
    return picked


def s3_record(key: str, event_name: str = "ObjectCreated:Put") -> dict[str, object]:
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2023-07-10T11:50:07.321Z",
        "eventName": event_name,
        "userIdentity": {"principalId": "AWS:AROAEXAMPLEID:regionalDeliverySession"},
        "requestParameters": {"sourceIPAddress": "10.0.1.17"},
        "responseElements": {
            "x-amz-request-id": "C3D13FE58DE4C810",
            "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD",
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "ctrules-new-log-files",
            "bucket": {
                "name": BUCKET,
                "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                "arn": f"arn:aws:s3:::{BUCKET}",
            },
            "object": {
                "key": key,
                "size": 2481,
                "eTag": "d41d8cd98f00b204e9800998ecf8427e",
                "sequencer": "0064ABF1D2E6A01F4E",
            },
        },
    }


def s3_notification(*keys: str) -> dict[str, object]:
    return {"Records": [s3_record(k) for k in keys]}


def sns_notification(message: str, message_id: str) -> dict[str, object]:
    return {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": TOPIC,
        "Subject": "Amazon S3 Notification",
        "Message": message,
        "Timestamp": "2023-07-10T11:50:07.501Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7fUQvi2egU3N858fiTDN6bkkOxYDVrY0Ad8L10Hs3zH81mtnPk5uvvolIC1CXGu43obcgFxeL3khZl8IKvO61GWB6jI9b5+gLPoBc1Q=",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem",
        "UnsubscribeURL": f"https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={TOPIC}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
    }


def lambda_sns_event(message: str) -> dict[str, object]:
    body = sns_notification(message, "95df01b4-ee98-5cb9-9903-4c221d41eb5e")
    return {
        "Records": [
            {
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{TOPIC}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
                "EventSource": "aws:sns",
                "Sns": {
                    "SignatureVersion": body["SignatureVersion"],
                    "Timestamp": body["Timestamp"],
                    "Signature": body["Signature"],
                    "SigningCertUrl": body["SigningCertURL"],
                    "MessageId": body["MessageId"],
                    "Message": message,
                    "MessageAttributes": {},
                    "Type": "Notification",
                    "UnsubscribeUrl": body["UnsubscribeURL"],
                    "TopicArn": TOPIC,
                    "Subject": body["Subject"],
                },
            }
        ]
    }


def sqs_record(body: str, message_id: str) -> dict[str, object]:
    return {
        "messageId": message_id,
        "receiptHandle": "MessageReceiptHandle-" + message_id,
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1688989807601",
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": "1688989807612",
        },
        "messageAttributes": {},
        "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE,
        "awsRegion": "us-east-1",
    }


def eventbridge(detail_type: str, source: str, detail: dict[str, object]) -> dict[str, object]:
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": detail_type,
        "source": source,
        "account": "111122223333",
        "time": "2023-07-10T11:50:07Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{BUCKET}"] if source == "aws.s3" else [],
        "detail": detail,
    }


def object_created(key: str) -> dict[str, object]:
    return eventbridge(
        "Object Created",
        "aws.s3",
        {
            "version": "0",
            "bucket": {"name": BUCKET},
            "object": {
                "key": key,
                "size": 2481,
                "etag": "d41d8cd98f00b204e9800998ecf8427e",
                "sequencer": "0064ABF1D2E6A01F4E",
            },
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "cloudtrail.amazonaws.com",
            "source-ip-address": "10.0.1.17",
            "reason": "PutObject",
        },
    )


def api_call(record: dict[str, object]) -> dict[str, object]:
    detail_type = (
        "AWS Console Sign In via CloudTrail"
        if record.get("eventName") == "ConsoleLogin"
        else "AWS API Call via CloudTrail"
    )
    source = "aws." + str(record.get("eventSource", "")).split(".")[0]
    return eventbridge(detail_type, source, record)


def kinesis_record(data: bytes, seq: str, key: str) -> dict[str, object]:
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": key,
            "sequenceNumber": seq,
            "data": base64.b64encode(data).decode(),
            "approximateArrivalTimestamp": 1688989807.602,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"shardId-000000000000:{seq}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::444455556666:role/ctrules-consumer",
        "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:kinesis:us-east-1:444455556666:stream/cloudtrail",
    }


def cwl_data(records: list[dict[str, object]]) -> bytes:
    return gzip.compress(
        json.dumps(
            {
                "messageType": "DATA_MESSAGE",
                "owner": "111122223333",
                "logGroup": "aws-cloudtrail-logs-111122223333-main",
                "logStream": "111122223333_CloudTrail_us-east-1",
                "subscriptionFilters": ["ctrules-to-kinesis"],
                "logEvents": [
                    {
                        "id": f"3755398765000000000000000000000000000000000000000{i:04d}",
                        "timestamp": 1688989536000 + i,
                        "message": json.dumps(r, separators=(",", ":")),
                    }
                    for i, r in enumerate(records)
                ],
            }
        ).encode(),
        mtime=0,
    )


def cwl_control() -> bytes:
    return gzip.compress(
        json.dumps(
            {
                "messageType": "CONTROL_MESSAGE",
                "owner": "CloudwatchLogs",
                "logGroup": "",
                "logStream": "",
                "subscriptionFilters": [],
                "logEvents": [
                    {
                        "id": "",
                        "timestamp": 1688989536000,
                        "message": "CWL CONTROL MESSAGE: Checking health of destination Kinesis stream.",
                    }
                ],
            }
        ).encode(),
        mtime=0,
    )


def write(name: str, value: object) -> None:
    (HERE / name).write_text(json.dumps(value, indent=2) + "\n")


def main() -> None:
    records = corpus_records()
    write("cloudtrail_log.json", {"Records": records})
    s3_event = s3_notification(ENCODED_KEY)
    write("s3_notification.json", s3_event)
    write("s3_notification_digest.json", s3_notification(DIGEST_KEY.replace(" ", "+")))
    write("sns_s3_notification.json", lambda_sns_event(json.dumps(s3_event)))
    write(
        "sns_cloudtrail_notification.json",
        lambda_sns_event(json.dumps({"s3Bucket": BUCKET, "s3ObjectKey": [KEY]})),
    )
    write(
        "sqs_s3_notification.json",
        {"Records": [sqs_record(json.dumps(s3_event), "059f36b4-87a3-44ab-83d2-661975830a7d")]},
    )
    sns_body = sns_notification(json.dumps(s3_event), "da41e39f-ea4d-435a-b922-c6aae3915ebe")
    write(
        "sqs_sns_s3_notification.json",
        {"Records": [sqs_record(json.dumps(sns_body), "2e1424d4-f796-459a-8184-9c92662be6da")]},
    )
    write(
        "sqs_s3_test_event.json",
        {
            "Records": [
                sqs_record(
                    json.dumps(
                        {
                            "Service": "Amazon S3",
                            "Event": "s3:TestEvent",
                            "Time": "2023-07-10T11:40:00.012Z",
                            "Bucket": BUCKET,
                            "RequestId": "5582815E1AEA5ADF",
                            "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
                        }
                    ),
                    "a6c6b8d6-4e7e-4f39-9cfe-0d3c1e5f2a11",
                )
            ]
        },
    )
    write("eventbridge_object_created.json", object_created(KEY))
    stop = next(r for r in records if r.get("eventName") == "UpdateTrail")
    write("eventbridge_api_call.json", api_call(stop))
    login = next(r for r in records if r.get("eventName") == "ConsoleLogin")
    write("eventbridge_console_signin.json", api_call(login))
    write(
        "kinesis_cloudwatch_logs.json",
        {
            "Records": [
                kinesis_record(
                    cwl_control(),
                    "49590338271490256608559692538361571095921575989136588801",
                    "cwl-control",
                ),
                kinesis_record(
                    cwl_data(records[:6]),
                    "49590338271490256608559692538361571095921575989136588802",
                    "cwl-1",
                ),
                kinesis_record(
                    cwl_data(records[6:]),
                    "49590338271490256608559692538361571095921575989136588803",
                    "cwl-2",
                ),
            ]
        },
    )
    write(
        "kinesis_eventbridge.json",
        {
            "Records": [
                kinesis_record(
                    json.dumps(api_call(r)).encode(),
                    f"4959033827149025660855969253836157109592157598913659{i:04d}",
                    r["eventID"],
                )  # type: ignore[arg-type]
                for i, r in enumerate(records[:4])
            ]
        },
    )
    write(
        "kinesis_raw.json",
        {
            "Records": [
                kinesis_record(
                    json.dumps(r).encode(),
                    f"4959033827149025660855969253836157109592157598913660{i:04d}",
                    str(r["eventID"]),
                )
                for i, r in enumerate(records[4:8])
            ]
        },
    )


if __name__ == "__main__":
    main()
