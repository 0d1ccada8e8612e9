"""Call workers: service calls that may block run off the peer's loop thread.

One lane per hosted service instance (a Marine instance is single-threaded, so its calls stay in order on one
thread) and per blocking builtin service (aqua-ipfs, dist, srv). A lane is a worker thread and two bounded queues
of waiting calls: the host's and management peers' calls (`priority`) start before any stranger's, and the bound
on strangers' calls (`queue_limit`) leaves them room, so a stranger who fills a shared service's queue (the
interval's `ens`, say) delays the interval by at most the one call running. A call beyond its bound is refused
at once (`submit` returns False). A finished call reports
through `on_done(ticket, answer)` from the worker thread: the peer queues it and wakes its loop.

A call the peer gave up on (its deadline passed) is `cancel`led: skipped if it has not started; if it runs, the
worker stays busy until it really ends (wasm has its own epoch deadline, mounted binaries their timeout) and its
answer is dropped by the peer. Idle lanes end their thread after `idle_exit_s`; the next call starts a new one.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

IDLE_EXIT_S = 5.0
PRIORITY_QUEUE_FACTOR = 4  # the host's and management peers' calls may queue this many times queue_limit


@dataclass
class CallJob:
    ticket: int
    run: Callable[[], object]
    cancelled: bool = False


@dataclass
class _Lane:
    name: str
    waiting: deque[CallJob] = field(default_factory=deque)
    urgent: deque[CallJob] = field(default_factory=deque)  # the host's and management peers' calls
    running: CallJob | None = None
    thread: threading.Thread | None = None
    wakeup: threading.Condition | None = None


class CallWorkers:
    """Worker lanes keyed by name; thread-safe. `on_done(ticket, answer)` runs on the worker thread."""

    def __init__(
        self, on_done: Callable[[int, object], None], *, queue_limit: int = 16, idle_exit_s: float = IDLE_EXIT_S
    ) -> None:
        self._on_done = on_done
        self.queue_limit = queue_limit
        self.idle_exit_s = idle_exit_s
        self._lock = threading.Lock()
        self._lanes: dict[str, _Lane] = {}
        self._closed = False

    def submit(self, lane_name: str, job: CallJob, *, priority: bool = False) -> bool:
        """Queue `job` on its lane; False when its queue is full (`queue_limit` strangers' calls, or
        PRIORITY_QUEUE_FACTOR times that for `priority` calls)."""
        with self._lock:
            if self._closed:
                return False
            lane = self._lanes.get(lane_name)
            if lane is None:
                lane = self._lanes[lane_name] = _Lane(lane_name, wakeup=threading.Condition(self._lock))
            queue, limit = (
                (lane.urgent, self.queue_limit * PRIORITY_QUEUE_FACTOR)
                if priority
                else (lane.waiting, self.queue_limit)
            )
            if len(queue) >= limit:
                return False
            queue.append(job)
            if lane.thread is None:
                lane.thread = threading.Thread(
                    target=self._work, args=(lane,), name=f"peer-call-{lane_name}"[:60], daemon=True
                )
                lane.thread.start()
            else:
                assert lane.wakeup is not None
                lane.wakeup.notify()
        return True

    def cancel(self, job: CallJob) -> None:
        """The peer no longer waits for `job`: do not start it (a running call goes on to its end)."""
        job.cancelled = True

    def busy(self) -> dict[str, int]:
        """Lane -> calls running or waiting (for `info`)."""
        with self._lock:
            return {
                name: len(lane.waiting) + len(lane.urgent) + (lane.running is not None)
                for name, lane in self._lanes.items()
                if lane.waiting or lane.urgent or lane.running is not None
            }

    def close(self) -> None:
        """No new calls; idle threads end now, busy ones after their current call."""
        with self._lock:
            self._closed = True
            for lane in self._lanes.values():
                for job in (*lane.waiting, *lane.urgent):
                    job.cancelled = True
                lane.waiting.clear()
                lane.urgent.clear()
                assert lane.wakeup is not None
                lane.wakeup.notify_all()

    def _work(self, lane: _Lane) -> None:
        assert lane.wakeup is not None
        while True:
            with self._lock:
                while not lane.waiting and not lane.urgent and not self._closed:
                    if not lane.wakeup.wait(self.idle_exit_s) and not lane.waiting and not lane.urgent:
                        break  # idle: end this thread; submit starts a new one
                if not lane.waiting and not lane.urgent:
                    lane.thread = None
                    if self._lanes.get(lane.name) is lane:
                        del self._lanes[lane.name]
                    return
                job = lane.urgent.popleft() if lane.urgent else lane.waiting.popleft()
                if job.cancelled:
                    continue
                lane.running = job
            try:
                answer: object = job.run()
            except Exception as err:  # run() turns errors into answers: this is a bug, keep the lane alive
                logger.exception("call worker %s: call %d raised", lane.name, job.ticket)
                answer = err
            finally:
                with self._lock:
                    lane.running = None
            if not job.cancelled:
                self._on_done(job.ticket, answer)
