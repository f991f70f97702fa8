"""Pipeline stage 7 — delivery: routing, grouping and sending alerts (Slack, stdout)."""

from .base import DeliveryFailure, DeliveryReport, JsonLinesSink, Sink

__all__ = ["DeliveryFailure", "DeliveryReport", "JsonLinesSink", "Sink"]
