"""Call workers: service calls that may block run off the peer's loop thread.

One lane per hosted service instance (a Marine instance is single-threaded, so its calls stay in order on one
thread) and per blocking builtin service (aqua-ipfs, dist, srv). A lane is a worker thread and a bounded queue of
waiting calls; a call beyond the bound is refused at once (`submit` returns False). A finished call reports
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
from typing import Any

logger = logging.getLogger(__name__)

IDLE_EXIT_S = 5.0


@dataclass
class CallJob:
    ticket: int
    run: Callable[[], Any]
    cancelled: bool = False


@dataclass
class _Lane:
    name: str
    waiting: deque[CallJob] = field(default_factory=deque)
    running: CallJob | None = None
    thread: threading.Thread | None = None
    wakeup: threading.Condition | None = None


class CallWorkers:
    """Worker lanes keyed by name; thread-safe. `on_done(ticket, answer)` runs on the worker thread."""

    def __init__(
        self, on_done: Callable[[int, Any], None], *, queue_limit: int = 16, idle_exit_s: float = IDLE_EXIT_S
    ) -> None:
        self._on_done = on_done
        self.queue_limit = queue_limit
        self.idle_exit_s = idle_exit_s
        self._lock = threading.Lock()
        self._lanes: dict[str, _Lane] = {}
        self._closed = False

    def submit(self, lane_name: str, job: CallJob) -> bool:
        """Queue `job` on its lane; False when `queue_limit` calls already wait there (the lane is busy)."""
        with self._lock:
            if self._closed:
                return False
            lane = self._lanes.get(lane_name)
            if lane is None:
                lane = self._lanes[lane_name] = _Lane(lane_name, wakeup=threading.Condition(self._lock))
            if len(lane.waiting) >= self.queue_limit:
                return False
            lane.waiting.append(job)
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
                name: len(lane.waiting) + (lane.running is not None)
                for name, lane in self._lanes.items()
                if lane.waiting or lane.running is not None
            }

    def close(self) -> None:
        """No new calls; idle threads end now, busy ones after their current call."""
        with self._lock:
            self._closed = True
            for lane in self._lanes.values():
                for job in lane.waiting:
                    job.cancelled = True
                lane.waiting.clear()
                assert lane.wakeup is not None
                lane.wakeup.notify_all()

    def _work(self, lane: _Lane) -> None:
        assert lane.wakeup is not None
        while True:
            with self._lock:
                while not lane.waiting and not self._closed:
                    if not lane.wakeup.wait(self.idle_exit_s) and not lane.waiting:
                        break  # idle: end this thread; submit starts a new one
                if not lane.waiting:
                    lane.thread = None
                    if self._lanes.get(lane.name) is lane:
                        del self._lanes[lane.name]
                    return
                job = lane.waiting.popleft()
                if job.cancelled:
                    continue
                lane.running = job
            try:
                answer = job.run()
            except Exception as err:  # run() turns errors into answers: this is a bug, keep the lane alive
                logger.exception("call worker %s: call %d raised", lane.name, job.ticket)
                answer = err
            finally:
                with self._lock:
                    lane.running = None
            if not job.cancelled:
                self._on_done(job.ticket, answer)
