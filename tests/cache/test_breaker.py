"""The circuit breaker in front of Redis."""

from __future__ import annotations

from gateway.cache import CircuitBreaker, CircuitState
from tests.clock import Clock


def test_opens_after_threshold_and_recovers_after_cool_down() -> None:
    """Consecutive failures open it; after the cool-down one trial call may close it."""
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=3, reset_after=5, clock=clock)
    assert not breaker.record_failure()
    assert not breaker.record_failure()
    assert breaker.record_failure()  # the third opens it
    assert breaker.state is CircuitState.OPEN
    assert not breaker.allow()
    clock.now = 5
    assert breaker.state is CircuitState.HALF_OPEN
    assert breaker.allow()  # the trial
    assert not breaker.allow()  # only one at a time
    assert breaker.record_success()
    assert breaker.state is CircuitState.CLOSED
    assert breaker.allow()


def test_failed_trial_waits_a_full_cool_down_again() -> None:
    """A failing trial call re-opens the circuit for another cool-down."""
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, reset_after=5, clock=clock)
    breaker.record_failure()
    clock.now = 5
    assert breaker.allow()
    breaker.record_failure()
    clock.now = 9
    assert not breaker.allow()
    clock.now = 10
    assert breaker.allow()


def test_abandoned_trial_expires() -> None:
    """A trial whose caller never reported back does not block trials forever."""
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, reset_after=5, clock=clock)
    breaker.record_failure()
    clock.now = 5
    assert breaker.allow()
    clock.now = 10
    assert breaker.allow()


def test_success_resets_the_failure_count() -> None:
    """Failures must be consecutive to open the circuit."""
    breaker = CircuitBreaker(failure_threshold=2, reset_after=5)
    breaker.record_failure()
    assert not breaker.record_success()
    assert not breaker.record_failure()
    assert breaker.state is CircuitState.CLOSED
