"""The convergence machine of tests/test_convergence.py at length: a few hundred examples of
customers writing, agents changing things online and offline, syncs losing answers and being
cut off mid-way, all ending with every replica equal to ``reduce(log)``."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

from tests.test_convergence import Convergence


class ConvergenceAtLength(Convergence):
    pass


ConvergenceAtLength.TestCase.settings = settings(
    max_examples=250,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestConvergenceAtLength = pytest.mark.stress(ConvergenceAtLength.TestCase)
