"""Deferred jobs start when the engine is idle: not during a call, at once when a caller waits for
them, after ``idle_wait_s`` under constant load, and never once the queue is closed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from graphs.background import Deferred


def _job(log: list[float]) -> tuple[threading.Event, Callable[[], None]]:
    done = threading.Event()

    def job() -> None:
        log.append(time.monotonic())
        done.set()

    return done, job


def test_a_job_waits_for_the_call_in_progress_and_a_quiet_spell() -> None:
    deferred, ran = Deferred(idle_wait_s=10.0, quiet_s=0.1), list[float]()
    done, job = _job(ran)
    try:
        with deferred.foreground():
            deferred.submit("sam", job)
            assert not done.wait(0.3)  # the call is still in progress
            ended = time.monotonic()
        assert done.wait(5.0)
        assert ran[0] - ended >= 0.09
    finally:
        deferred.close()


def test_a_caller_waiting_for_the_job_runs_it_at_once_even_inside_a_call() -> None:
    deferred, ran = Deferred(idle_wait_s=30.0), list[float]()
    done, job = _job(ran)
    try:
        with deferred.foreground():
            deferred.submit("sam", job)
            started = time.monotonic()
            deferred.wait("sam")  # a write to the namespace waits for its reflection
            assert done.is_set() and time.monotonic() - started < 5.0
    finally:
        deferred.close()


def test_constant_load_delays_a_job_by_idle_wait_s_at_most() -> None:
    deferred, ran = Deferred(idle_wait_s=0.5), list[float]()
    done, job = _job(ran)
    try:
        with deferred.foreground():
            submitted = time.monotonic()
            deferred.submit("sam", job)
            assert done.wait(5.0)
        assert 0.4 <= ran[0] - submitted < 5.0
    finally:
        deferred.close()


def test_a_job_still_waiting_when_the_queue_closes_never_runs() -> None:
    deferred, ran = Deferred(idle_wait_s=30.0), list[float]()
    done, job = _job(ran)
    with deferred.foreground():
        deferred.submit("sam", job)
        time.sleep(0.1)
        closer = threading.Thread(target=deferred.close)
        closer.start()
        closer.join(5.0)
        assert not closer.is_alive()
    assert not done.is_set() and ran == []
