"""Runs the SQS worker in a subprocess with a test sink (our Sink interface) that appends each
delivered alert to a file — and can sleep, or kill its own process, on a given delivery.

    python tests/consumer/worker_main.py QUEUE_URL OUT_FILE [--delay S] [--die-on-call N]
        [--concurrency N] [--visibility S] [--configured-sink]

With --configured-sink the worker delivers through the sink its environment configures (Slack,
CTRULES_SLACK_*), exactly as the real `ctrules consume sqs`; OUT_FILE is then unused.

Environment: CTRULES_* and AWS_ENDPOINT_URL as for the real worker.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2]))

from ctrules.alerts import Alert  # noqa: E402
from ctrules.aws.runtime import Runtime  # noqa: E402
from ctrules.aws.sqs_worker import SqsWorker  # noqa: E402
from ctrules.delivery.base import DeliveryReport  # noqa: E402


class FileSink:
    def __init__(self, path: str, delay: float, die_on_call: int) -> None:
        self.path = path
        self.delay = delay
        self.die_on_call = die_on_call
        self.calls = 0

    def deliver(self, alerts: Sequence[Alert]) -> DeliveryReport:
        self.calls += 1
        with open(self.path, "a") as out:
            out.write(json.dumps({"deliver": self.calls, "pid": os.getpid()}) + "\n")
            out.flush()
            os.fsync(out.fileno())
        if self.calls == self.die_on_call:
            os.kill(os.getpid(), signal.SIGKILL)  # dies holding claims, messages in flight
        time.sleep(self.delay)
        sent = [a for a in alerts if not a.ignored]
        with open(self.path, "a") as out:
            for a in sent:
                out.write(json.dumps({"rule": a.rule, "eventID": a.event_id}) + "\n")
            out.flush()
            os.fsync(out.fileno())
        return DeliveryReport(delivered=len(sent))


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("queue")
    p.add_argument("out")
    p.add_argument("--delay", type=float, default=0.0)
    p.add_argument("--die-on-call", type=int, default=0)
    p.add_argument("--concurrency", type=int, default=2)
    p.add_argument("--visibility", type=int, default=30)
    p.add_argument("--configured-sink", action="store_true")
    args = p.parse_args()
    if args.configured_sink:
        runtime = Runtime.build(os.environ)
    else:
        runtime = Runtime.build(os.environ, sink=FileSink(args.out, args.delay, args.die_on_call))
    worker = SqsWorker(
        runtime,
        args.queue,
        concurrency=args.concurrency,
        visibility_timeout=args.visibility,
        wait_seconds=1,
        exit_when_empty=True,
    )
    worker.install_signal_handlers()
    return worker.run()


if __name__ == "__main__":
    sys.exit(main())
