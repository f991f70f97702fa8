"""Stateful rules (a ctrules extension): `count`, `distinct`, `first_seen` and `sequence`.

A stateful rule's `when` selects events as any rule's does; the engine (`engine`) then adds them
up per key in event-time windows, in a state store (`store`: in memory, or DynamoDB in
`dynamodb`), and alerts once per key per window. docs/language.md "Stateful rules" is the
author's guide; docs/consumer.md says how the Lambda handler and the workers keep the state.
"""

from __future__ import annotations

from .engine import LATENESS_SECONDS, Observation, StatefulEngine, event_time
from .store import MemoryStore, StateStore

__all__ = [
    "LATENESS_SECONDS",
    "MemoryStore",
    "Observation",
    "StateStore",
    "StatefulEngine",
    "event_time",
]
