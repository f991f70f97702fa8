"""Test-suite wide settings: a fixed hypothesis profile so CI is reproducible and bounded."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,  # a fixed seed: the same examples on every run
    deadline=None,  # a loaded 2-core CI machine is not a reason to fail
    max_examples=200,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile("dev", parent=settings.get_profile("ci"), derandomize=False,
                          max_examples=1000)
settings.load_profile(os.environ.get("CTRULES_HYPOTHESIS_PROFILE", "ci"))
