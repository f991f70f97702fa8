"""AWS runtime — the `ctrules consume` sub-commands (container workers).

    ctrules consume sqs --queue URL [--concurrency N] [--visibility-timeout S]
    ctrules consume kinesis --stream NAME [--checkpoint-table T | --checkpoint-file F]

Flags default to the CTRULES_* environment variables (docs/configuration.md), so a container
needs only its environment. `python -m ctrules.aws.cli consume ...` works too.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .config import Config, ConfigError

RULESET_HELP = (
    "rule set: a .ctr file, a directory, `default` (the bundled pack), s3://bucket/key.ctr or "
    "s3://bucket/prefix/ (default: $CTRULES_RULES)"
)


def _ruleset_arguments(parser: argparse.ArgumentParser) -> None:
    # Positional like every other subcommand; --rules stays as a deprecated alias.
    parser.add_argument("ruleset", nargs="?", metavar="RULESET", help=RULESET_HELP)
    parser.add_argument(
        "--rules", metavar="RULESET", help="deprecated: give the rule set as the RULESET argument"
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    consume = subparsers.add_parser(
        "consume",
        help="run a container worker that reads CloudTrail from SQS or Kinesis",
        description="Run a long-lived worker (container) that evaluates CloudTrail from a queue "
        "or stream and delivers alerts. Configuration: CTRULES_* environment variables.",
    )
    sources = consume.add_subparsers(dest="consume_source", metavar="SOURCE", required=True)

    sqs = sources.add_parser(
        "sqs",
        help="read S3/SNS/EventBridge notifications (or records) from an SQS queue",
        description="Long-poll an SQS queue; delete each message only after its alerts are "
        "delivered. Run more replicas to scale. SIGTERM finishes in-flight work and exits 0.",
    )
    sqs.add_argument("--queue", help="queue URL (default: $CTRULES_SQS_QUEUE_URL)")
    sqs.add_argument("--concurrency", type=int, help="messages in parallel ($CTRULES_CONCURRENCY)")
    sqs.add_argument(
        "--visibility-timeout",
        type=int,
        help="seconds; extended while a message is in progress ($CTRULES_VISIBILITY_TIMEOUT)",
    )
    sqs.add_argument("--wait-seconds", type=int, default=20, help="long-poll wait (0-20)")
    _ruleset_arguments(sqs)
    sqs.add_argument(
        "--exit-when-empty",
        action="store_true",
        help="exit 0 once the queue holds no visible or in-flight messages (batch jobs, tests)",
    )
    sqs.set_defaults(func=run_sqs)

    kinesis = sources.add_parser(
        "kinesis",
        help="read a Kinesis stream (CloudWatch Logs subscription, EventBridge, raw records)",
        description="Read every shard of a stream with one worker, checkpointing per shard. "
        "Past one worker, use the Lambda event source mapping instead.",
    )
    kinesis.add_argument("--stream", help="stream name (default: $CTRULES_KINESIS_STREAM)")
    kinesis.add_argument("--checkpoint-table", help="DynamoDB table ($CTRULES_CHECKPOINT_TABLE)")
    kinesis.add_argument("--checkpoint-file", help="local JSON file ($CTRULES_CHECKPOINT_FILE)")
    kinesis.add_argument(
        "--from",
        dest="start",
        choices=["latest", "trim-horizon"],
        default="latest",
        help="where to start a shard that has no checkpoint yet (default: latest)",
    )
    kinesis.add_argument("--poll-interval", type=float, default=1.0, help="seconds when idle")
    _ruleset_arguments(kinesis)
    kinesis.add_argument(
        "--exit-when-idle",
        action="store_true",
        help="exit 0 once every shard is read to its end (batch jobs, tests)",
    )
    kinesis.set_defaults(func=run_kinesis)


def _env(args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    ruleset = getattr(args, "ruleset", None)
    alias = getattr(args, "rules", None)
    if alias:
        print("ctrules consume: --rules is deprecated; give the rule set as the RULESET argument",
              file=sys.stderr)
        if ruleset and ruleset != alias:
            raise SystemExit(f"ctrules consume: two rule sets given: {ruleset!r} and --rules "
                             f"{alias!r}")
    if ruleset or alias:
        env["CTRULES_RULES"] = str(ruleset or alias)
    return env


def _fail(message: str) -> int:
    print(f"ctrules consume: {message}", file=sys.stderr)
    return 1


def run_sqs(args: argparse.Namespace) -> int:
    from .runtime import Runtime
    from .sqs_worker import SqsWorker

    env = _env(args)
    try:
        config = Config.from_env(env)
    except ConfigError as exc:
        return _fail(str(exc))
    queue = args.queue or config.queue_url
    if not queue:
        return _fail("no queue: give --queue URL or set CTRULES_SQS_QUEUE_URL")
    try:
        runtime = Runtime.build(env)
    except Exception as exc:  # bad rule set, secret, Slack config: already logged in detail
        return _fail(f"cannot start: {type(exc).__name__}: {exc}")
    worker = SqsWorker(
        runtime,
        queue,
        concurrency=args.concurrency or config.concurrency,
        visibility_timeout=args.visibility_timeout or config.visibility_timeout,
        wait_seconds=args.wait_seconds,
        exit_when_empty=args.exit_when_empty,
    )
    worker.install_signal_handlers()
    return worker.run()


def run_kinesis(args: argparse.Namespace) -> int:
    from .kinesis_worker import (
        CheckpointStore,
        DynamoCheckpoints,
        FileCheckpoints,
        KinesisWorker,
        MemoryCheckpoints,
    )
    from .runtime import Runtime

    env = _env(args)
    try:
        config = Config.from_env(env)
    except ConfigError as exc:
        return _fail(str(exc))
    stream = args.stream or config.stream
    if not stream:
        return _fail("no stream: give --stream NAME or set CTRULES_KINESIS_STREAM")
    try:
        runtime = Runtime.build(env)
    except Exception as exc:
        return _fail(f"cannot start: {type(exc).__name__}: {exc}")
    table = args.checkpoint_table or config.checkpoint_table
    path = args.checkpoint_file or config.checkpoint_file
    checkpoints: CheckpointStore
    if table:
        checkpoints = DynamoCheckpoints(runtime.clients("dynamodb"), table, stream)
    elif path:
        checkpoints = FileCheckpoints(path, stream)
    else:
        checkpoints = MemoryCheckpoints()
        print(
            f"ctrules consume: no checkpoint table or file; a restart starts over at {args.start}",
            file=sys.stderr,
        )
    worker = KinesisWorker(
        runtime,
        stream,
        checkpoints,
        start="TRIM_HORIZON" if args.start == "trim-horizon" else "LATEST",
        poll_interval=args.poll_interval,
        exit_when_idle=args.exit_when_idle,
    )
    worker.install_signal_handlers()
    return worker.run()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ctrules")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
