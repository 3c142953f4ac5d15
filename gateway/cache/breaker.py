"""A circuit breaker: after repeated failures, stop calling a dependency for a while."""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import Enum

__all__ = ["CircuitBreaker", "CircuitState"]


class CircuitState(Enum):
    CLOSED = "closed"  # calls go through
    OPEN = "open"  # calls are skipped until the cool-down ends
    HALF_OPEN = "half_open"  # one trial call decides between CLOSED and OPEN


class CircuitBreaker:
    """Opens after `failure_threshold` consecutive failures; retries after `reset_after` seconds."""

    def __init__(
        self, failure_threshold: int, reset_after: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._threshold = failure_threshold
        self._reset_after = reset_after
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_started_at: float | None = None

    @property
    def state(self) -> CircuitState:
        if self._opened_at is None:
            return CircuitState.CLOSED
        if self._clock() - self._opened_at >= self._reset_after:
            return CircuitState.HALF_OPEN
        return CircuitState.OPEN

    def allow(self) -> bool:
        """Whether a call may be made now (in HALF_OPEN, one trial per cool-down)."""
        state = self.state
        if state is CircuitState.CLOSED:
            return True
        if state is CircuitState.OPEN:
            return False
        now = self._clock()
        # A trial that never reported back (its caller was cancelled) expires after a cool-down.
        if self._trial_started_at is None or now - self._trial_started_at >= self._reset_after:
            self._trial_started_at = now
            return True
        return False

    def record_success(self) -> bool:
        """Note a successful call; True when this closed an open circuit."""
        recovered = self._opened_at is not None
        self._failures = 0
        self._opened_at = None
        self._trial_started_at = None
        return recovered

    def record_failure(self) -> bool:
        """Note a failed call; True when this opened the circuit."""
        self._trial_started_at = None
        if self._opened_at is not None:
            self._opened_at = self._clock()  # the trial failed: wait a full cool-down again
            return False
        self._failures += 1
        if self._failures >= self._threshold:
            self._opened_at = self._clock()
            return True
        return False
