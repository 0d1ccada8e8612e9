"""A Fluence peer: executes particles with the official AquaVM, answers call requests, forwards particles.

Synchronous by design: one thread drives `step()` (the network loop in `network.py`, or a daemon later). A
transport delivers particles with `receive()` (thread-safe) and the peer sends through the `Transport` it was
given; nothing about sockets or libp2p lives here.

Per particle (keyed by id + signature, as js-client) the peer keeps AquaVM's `prev_data`. Each `invoke` gets the
incoming data (or empty data plus call results); the new data becomes prev_data and is sent to `next_peer_pks`;
call requests go to particle-scoped handlers (the client's getDataSrv/callbackSrv), builtins, then hosted
services; their results are fed back into the next `invoke` until no call is left. A builtin may answer later
(`Deferred`, e.g. peer.timeout): the result is queued as a timed event. Particles are dropped at their TTL.

Calls that may block never run on the loop thread: a hosted service's calls run on that instance's worker, a
blocking builtin's (aqua-ipfs, dist.add_module*, srv.create: I/O or wasm compilation) on that builtin's worker
(`workers.py`). Each has a deadline (`call_timeout_s`: the particle then gets an error result) and a bounded queue
(`call_queue_limit`: beyond it the call fails at once). A finished call comes back as a completion that the next
`step()` feeds to AquaVM, so other particles go on meanwhile; `add_wake_listener` tells a driver to step again.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypedDict

from fluence_dao.errors import AvmError, FluenceDaoError, ParticleError
from fluence_dao.peer.avm import (
    AVM_GUEST_CALL_SECONDS,
    AVM_MEMORY_BYTES,
    AVM_RESET_MEMORY_BYTES,
    AquaVM,
    CallRequest,
    CallResult,
    InterpreterOutcome,
    RunParameters,
)
from fluence_dao.peer.builtins import default_builtins
from fluence_dao.peer.calls import (
    JSON_NULL,
    BuiltinError,
    BuiltinHandler,
    CallContext,
    Deferred,
    ParticleHooks,
)
from fluence_dao.peer.particle import DEFAULT_TTL_MS, KeyPair, Particle, now_ms
from fluence_dao.peer.scheduler import ScriptRun, ScriptScheduler
from fluence_dao.peer.services import PermissionPolicy, ServiceHost, ServiceRecord
from fluence_dao.peer.vault import ParticleVault
from fluence_dao.peer.workers import CallJob, CallWorkers
from fluence_dao.util.json_types import Args, JsonObject, JsonValue

if TYPE_CHECKING:
    from fluence_dao.marine import CallParameters, HostBinary


class _SizeLimits(TypedDict, total=False):
    """AquaVM's hard size limits (RunParameters fields); empty: none."""

    air_size_limit: int
    particle_size_limit: int
    call_result_size_limit: int
    hard_limit_enabled: bool


logger = logging.getLogger(__name__)

ParticleKey = tuple[str, bytes]

GUEST_STEP_BUDGET_S = 0.02  # strangers' particles run at most this long per step (at least one invoke)
GUEST_SHARE_WHILE_BUSY = 0.1  # the loop's share strangers get while the host's or management's particles run
GUEST_CREDIT_MAX_S = 0.05
GUEST_RETRY_S = 0.005  # how soon the loop looks again at strangers' work it held back
GUEST_CALL_ARGS_BYTES = 64 * 1024
GUEST_AIR_SIZE_LIMIT = 1 * 2**20  # a stranger's AIR script
GUEST_PARTICLE_SIZE_LIMIT = 8 * 2**20  # a stranger's particle data, as AquaVM sees it
GUEST_CALL_RESULT_SIZE_LIMIT = 2 * 2**20  # one call result in a stranger's particle

#: Builtin functions that do I/O or compile wasm, so they run on the builtin's worker, not on the loop thread
#: ("*": every function of that builtin). A builtin may also say so itself with a `blocking_functions`
#: attribute (a set of function names, or containing "*").
BLOCKING_BUILTINS: dict[str, frozenset[str]] = {
    "aqua-ipfs": frozenset({"*"}),  # fetches over HTTP, reads and writes the IPFS repo and the vault
    "dist": frozenset({"add_module", "add_module_from_vault", "add_module_bytes_from_vault", "get_module_interface"}),
    "srv": frozenset({"create"}),
}


class Transport(Protocol):
    """How a peer reaches other peers. `send` returns False when the target is unknown/unreachable."""

    def send(self, sender_peer_id: str, target_peer_id: str, particle: Particle) -> bool: ...

    def contact(self, peer_id: str) -> list[str] | None: ...

    def peer_ids(self) -> list[str]: ...


@dataclass
class PeerConfig:
    state_dir: Path | None = None  # None: a temporary directory (key and modules are lost at exit)
    management_peer_ids: frozenset[str] = frozenset()
    restricted_builtins: bool = False  # True: module/service/script management only for host + management
    allowed_binaries: dict[str, str | HostBinary] = field(default_factory=dict)  # mounted binary -> path or host
    script_ttl_ms: int = DEFAULT_TTL_MS
    external_addresses: list[str] = field(default_factory=list)
    verify_signatures: bool = True
    module_memory_bytes: int = 256 * 2**20
    service_call_timeout_s: float = 30.0  # a Marine call's own bound (wasm epoch deadline, mounted binaries)
    call_timeout_s: float = 30.0  # the particle's wait for a call on a worker; then it gets an error result
    call_queue_limit: int = 16  # calls waiting per service worker; beyond it a call fails at once ("busy")
    avm_memory_bytes: int = AVM_MEMORY_BYTES  # AquaVM's memory ceiling: an invoke that needs more fails
    avm_reset_memory_bytes: int = AVM_RESET_MEMORY_BYTES  # AquaVM is re-instantiated when it grew past this
    # What one invoke of a stranger's particle may handle (AquaVM's own hard limits; the host and management
    # peers are not limited): bounded input keeps every invoke short, so strangers cannot hold the loop.
    guest_air_size_limit: int = GUEST_AIR_SIZE_LIMIT
    guest_particle_size_limit: int = GUEST_PARTICLE_SIZE_LIMIT
    guest_call_result_size_limit: int = GUEST_CALL_RESULT_SIZE_LIMIT
    guest_invoke_seconds: float = AVM_GUEST_CALL_SECONDS  # and how long one of its invokes may run
    # The arguments of one service call a stranger makes: services are shared with the interval (`ens`), and
    # a hosted call's time grows with its input, so a bounded input bounds how long a stranger holds the instance.
    guest_call_args_bytes: int = GUEST_CALL_ARGS_BYTES
    extra_builtins: dict[str, BuiltinHandler] = field(default_factory=dict)
    # Tests only: replaces WASI random_get in every service module, so a test can know the key the signer
    # creates and check that it never leaks. Settable in-process only; no setting or daemon option reaches it.
    module_random_source: Callable[[int], bytes] | None = None


@dataclass
class _ParticleState:
    particle: Particle
    prev_data: bytes = b""
    verified: bool = False
    failed: bool = False
    invokes: int = 0
    pending_calls: int = 0  # calls on workers and deferred results not yet fed back

    def held_bytes(self) -> int:
        return len(self.particle.script) + len(self.particle.data) + len(self.prev_data)


@dataclass
class _InFlight:
    """A call running (or waiting) on a worker; its answer is fed back to particle `key` as `call_id`."""

    key: ParticleKey
    call_id: int
    job: CallJob
    deadline: float  # monotonic
    service_id: str
    function: str


class _Submitted:
    """`_call`'s answer for a call handed to a worker: the result comes later as a completion."""


_SUBMITTED = _Submitted()


class ParticleSource(Protocol):
    """Something that starts particles on this peer on its own schedule (the spells of the `spell` builtin)."""

    def next_wakeup_s(self) -> float | None: ...

    def due_particles(self, peer: Peer, now_s: float) -> list[tuple[Particle, ParticleHooks]]: ...


class Peer:
    def __init__(
        self,
        config: PeerConfig | None = None,
        *,
        key_pair: KeyPair | None = None,
        avm: AquaVM | None = None,
        transport: Transport | None = None,
        is_client: bool = False,
    ) -> None:
        self.config = config or PeerConfig()
        if self.config.state_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="fluence-dao-peer-")
            self.state_dir = Path(self._tmp.name)
        else:
            self.state_dir = self.config.state_dir
            self.state_dir.mkdir(parents=True, exist_ok=True)
        self.key_pair = key_pair or KeyPair.load_or_create(self.state_dir / "peer.key")
        self.peer_id = self.key_pair.peer_id
        self.is_client = is_client
        self.avm = avm if avm is not None else self._new_avm()
        self.transport = transport
        self.policy = PermissionPolicy(
            host_peer_id=self.peer_id,
            management_peer_ids=frozenset(self.config.management_peer_ids),
            restricted=self.config.restricted_builtins,
        )
        self.vault = ParticleVault(self.state_dir / "vault")
        self.services = ServiceHost(
            self.state_dir,
            self.policy,
            allowed_binaries=self.config.allowed_binaries,
            vault_root=self.vault.root,
            module_memory_bytes=self.config.module_memory_bytes,
            max_call_seconds=self.config.service_call_timeout_s,
            random_source=self.config.module_random_source,
        )
        self.scheduler = ScriptScheduler()
        self.builtins: dict[str, BuiltinHandler] = default_builtins()
        self.builtins.update(self.config.extra_builtins)
        self.external_addresses = list(self.config.external_addresses)
        self.console: deque[JsonValue] = deque(maxlen=1000)  # what run-console.print got
        self.particles_processed = 0
        self._inbox: deque[Particle] = deque()  # strangers' particles
        self._inbox_priority: deque[Particle] = deque()  # the host's and management peers' particles
        self._guest_feeds: deque[tuple[ParticleKey, dict[int, CallResult]]] = deque()  # strangers' call results
        self._guest_credit_s = GUEST_CREDIT_MAX_S
        self._guest_clock = time.monotonic()
        self._inbox_lock = threading.Lock()
        self._states: dict[ParticleKey, _ParticleState] = {}
        self._hooks: dict[str, ParticleHooks] = {}
        self._script_runs: dict[str, tuple[str, ScriptRun]] = {}  # particle id -> (script id, its run)
        self._events: list[tuple[float, int, ParticleKey, int, CallResult]] = []
        self._deadlines: list[tuple[int, ParticleKey]] = []  # (deadline_ms, key), a heap
        self._seq = itertools.count()
        self._particle_sources: list[ParticleSource] = []
        self._workers = CallWorkers(self._post_completion, queue_limit=self.config.call_queue_limit)
        self._tickets = itertools.count(1)
        self._in_flight: dict[int, _InFlight] = {}  # ticket -> call on a worker (loop thread only)
        self._completions: deque[tuple[int, object]] = deque()  # (ticket, answer) from workers
        self._completions_lock = threading.Lock()
        self._wake_listeners: list[Callable[[], None]] = []
        self._inbox_bytes = 0  # script + data of queued particles (under _inbox_lock)
        self._state_bytes = 0  # script + data + prev_data of particles held (loop thread)
        #: Called on the loop thread when a particle fails here (AquaVM error or limit): (particle, reason).
        self.failure_listener: Callable[[Particle, str], None] | None = None

    def _new_avm(self) -> AquaVM:
        return AquaVM(
            max_memory_bytes=self.config.avm_memory_bytes,
            reset_memory_bytes=self.config.avm_reset_memory_bytes,
            guest_call_seconds=self.config.guest_invoke_seconds,
        )

    # ---- configuration ----------------------------------------------------------------------------------------

    def register_builtin(self, service_id: str, handler: BuiltinHandler) -> None:
        """Add (or replace) a builtin service, e.g. `aqua-ipfs`."""
        self.builtins[service_id] = handler

    def add_wake_listener(self, listener: Callable[[], None]) -> None:
        """`listener()` is called (from a worker thread) when a call finished: the driver should `step()`."""
        if listener not in self._wake_listeners:
            self._wake_listeners.append(listener)

    def close(self) -> None:
        """Stop the call workers (a call running now ends on its own; its answer is dropped)."""
        self._workers.close()

    def add_particle_source(self, source: ParticleSource) -> None:
        """Let `source` start particles (with this peer as init peer) from `step()` when it is due."""
        if source not in self._particle_sources:
            self._particle_sources.append(source)

    def network_contact(self, peer_id: str) -> list[str] | None:
        if peer_id == self.peer_id:
            return list(self.external_addresses)
        return None if self.transport is None else self.transport.contact(peer_id)

    def network_peer_ids(self) -> list[str]:
        return [self.peer_id] if self.transport is None else self.transport.peer_ids()

    def check_air(self, air: str) -> None:
        """BuiltinError when AquaVM cannot parse `air` (used by script.add)."""
        error = self.avm.parse_error(air)
        if error is not None:
            raise BuiltinError(f"Error: AIR script is invalid: {error}")

    # ---- particles in -----------------------------------------------------------------------------------------

    def receive(self, particle: Particle) -> None:
        """Queue a particle for execution (thread-safe; the transport's entry point). The host's and management
        peers' particles queue apart and run first: a stranger's flood cannot delay them."""
        inbox = self._inbox_priority if self.policy.is_privileged(particle.init_peer_id) else self._inbox
        with self._inbox_lock:
            inbox.append(particle)
            self._inbox_bytes += len(particle.script) + len(particle.data)

    @property
    def held_bytes(self) -> int:
        """Particle data this peer holds: script + data of queued particles, script + data + prev_data of the
        particles it keeps state for (until their TTL). Read from any thread (an admission check)."""
        return self._inbox_bytes + self._state_bytes

    def initiate(self, script: str, *, ttl_ms: int = DEFAULT_TTL_MS, hooks: ParticleHooks | None = None) -> Particle:
        """Start a particle with this peer as init peer; it executes on the next `step()`."""
        particle = Particle.create(script, self.key_pair, ttl_ms=ttl_ms)
        if hooks is not None:
            self._hooks[particle.id] = hooks
        self.receive(particle)
        return particle

    # ---- the loop ---------------------------------------------------------------------------------------------

    def step(self, now_s: float | None = None) -> bool:
        """Run everything that is due: scripts and spells first, then the host's and management peers' particles,
        call results, and strangers' particles last, within `GUEST_STEP_BUDGET_S` (the rest waits for the next
        step, so a due run never waits behind more than one stranger's invoke). True if work was done."""
        now = time.monotonic() if now_s is None else now_s
        worked = self._start_due(now_s, now)
        worked = self._drain_inbox(self._inbox_priority, None) or worked
        worked = self._feed_completions() or worked
        worked = self._expire_calls() or worked
        while self._events and self._events[0][0] <= now:
            _, _, key, call_id, result = heapq.heappop(self._events)
            state = self._states.get(key)
            if state is not None:
                state.pending_calls -= 1
                self._execute(key, state, b"", {call_id: result})
                worked = True
        worked = self._start_due(now_s, now) or worked  # the work above may have taken a while
        worked = self._run_guests(time.monotonic() + GUEST_STEP_BUDGET_S) or worked
        self._expire()
        return worked

    def _run_guests(self, budget_end: float) -> bool:
        """Strangers' work: call results for their particles, then their queued particles, while the guest policy
        lets them (`_guest_may_run`), each invoke's time taken from their credit."""
        worked = False
        while self._guest_may_run(budget_end):
            started = time.monotonic()
            if self._guest_feeds:
                key, results = self._guest_feeds.popleft()
                self._feed({key: results})
            elif not self._drain_inbox(self._inbox, started):  # one particle: the budget ends at once
                break
            worked = True
            self._guest_credit_s -= time.monotonic() - started
        return worked

    def _guest_may_run(self, budget_end: float) -> bool:
        """Whether a stranger's invoke may start now: within the step's budget, never when a run is due before it
        could end, and while the host's or management's particles are running only on a small share of the
        loop (credit refilled at GUEST_SHARE_WHILE_BUSY of the time), so they are not slowed invoke by invoke."""
        now = time.monotonic()
        if now >= budget_end or self._inbox_priority:
            return False
        if self._run_due(within_s=self.config.guest_invoke_seconds + 0.02):
            return False
        busy = self._privileged_running()
        rate = GUEST_SHARE_WHILE_BUSY if busy else 1.0
        self._guest_credit_s = min(GUEST_CREDIT_MAX_S, self._guest_credit_s + (now - self._guest_clock) * rate)
        self._guest_clock = now
        return self._guest_credit_s > 0 or not busy

    def _privileged_running(self) -> bool:
        """A particle of the host or a management peer waits for a call on a worker or a deferred result."""
        for entry in list(self._in_flight.values()):
            state = self._states.get(entry.key)
            if state is not None and not self._is_guest(state.particle):
                return True
        return any(
            not self._is_guest(state.particle) for _, _, key, _, _ in self._events if (state := self._states.get(key))
        )

    def _start_due(self, now_s: float | None, now: float) -> bool:
        """Start the scripts and spells that are due (a fresh clock: lateness is measured from here)."""
        worked = False
        for script in self.scheduler.due(time.monotonic() if now_s is None else now):
            particle = Particle.create(script.src, self.key_pair, ttl_ms=self.config.script_ttl_ms)
            run = self.scheduler.start_run(script, particle.id)
            self._script_runs[particle.id] = (script.id, run)
            self._hooks[particle.id] = self._script_hooks(run, script.args, script.id)
            self._handle_particle(particle)
            worked = True
        for source in list(self._particle_sources):
            for particle, particle_hooks in source.due_particles(self, time.monotonic() if now_s is None else now):
                self._hooks[particle.id] = particle_hooks
                self._handle_particle(particle)
                worked = True
        return worked

    def _drain_inbox(self, inbox: deque[Particle], budget_end: float | None) -> bool:
        """Run the particles queued in `inbox`; with a budget, stop once it is spent, a run is due or the host's and
        management peers' particles wait."""
        worked = False
        while True:
            with self._inbox_lock:
                if not inbox or (budget_end is not None and self._inbox_priority):
                    break
                particle = inbox.popleft()
                self._inbox_bytes -= len(particle.script) + len(particle.data)
            self._handle_particle(particle)
            worked = True
            if budget_end is not None and (time.monotonic() >= budget_end or self._run_due()):
                break
        return worked

    def _run_due(self, within_s: float = 0.0) -> bool:
        """A script or spell is due now (or within `within_s`)."""
        soon = time.monotonic() + within_s
        wakeups = [self.scheduler.next_wakeup_s(), *(source.next_wakeup_s() for source in self._particle_sources)]
        return any(w is not None and w <= soon for w in wakeups)

    def next_wakeup_s(self) -> float | None:
        """When `step()` next has something to do (monotonic seconds), None if only new particles can wake it."""
        candidates = [t for t in (self.scheduler.next_wakeup_s(),) if t is not None]
        candidates += [t for source in self._particle_sources if (t := source.next_wakeup_s()) is not None]
        if self._events:
            candidates.append(self._events[0][0])
        if self._deadlines:
            nearest_ms = self._deadlines[0][0]
            candidates.append(time.monotonic() + max(0.0, (nearest_ms - now_ms()) / 1000.0))
        if self._in_flight:
            candidates.append(min(entry.deadline for entry in list(self._in_flight.values())))
        with self._inbox_lock:
            if self._inbox_priority:
                return time.monotonic()
            guests_waiting = bool(self._inbox) or bool(self._guest_feeds)
        with self._completions_lock:
            if self._completions:
                return time.monotonic()
        if guests_waiting:  # now, or a little later while the guest policy holds them back (no busy loop)
            held_back = not self._guest_may_run(float("inf"))
            candidates.append(time.monotonic() + (GUEST_RETRY_S if held_back else 0.0))
        return min(candidates) if candidates else None

    def has_pending_work(self) -> bool:
        """Particles queued, or calls running on workers (their answers are still to be fed back)."""
        if self._guest_feeds:
            return True
        with self._inbox_lock:
            if self._inbox or self._inbox_priority:
                return True
        with self._completions_lock:
            return bool(self._in_flight) or bool(self._completions)

    def knows(self, particle_id: str) -> bool:
        """Whether this peer still keeps state for the particle (not yet expired or forgotten)."""
        return any(key[0] == particle_id for key in list(self._states))

    def queued_particle_ids(self) -> set[str]:
        """Ids of the particles received but not yet run (strangers' wait while a step's budget is spent)."""
        fed = {key[0] for key, _ in list(self._guest_feeds)}
        with self._inbox_lock:
            return fed | {p.id for p in self._inbox} | {p.id for p in self._inbox_priority}

    def particles_with_calls_in_flight(self) -> set[str]:
        """Ids of the particles that wait for a call on a worker (loop thread only)."""
        return {entry.key[0] for entry in list(self._in_flight.values())}

    # ---- execution --------------------------------------------------------------------------------------------

    def _handle_particle(self, particle: Particle) -> None:
        if particle.is_expired():
            logger.debug("particle %s expired before execution on %s: dropped", particle.id, self.peer_id)
            return
        key = (particle.id, particle.signature)
        state = self._states.get(key)
        if state is None:
            state = _ParticleState(particle=particle)
            if self.config.verify_signatures:
                try:
                    particle.verify()
                except ParticleError as err:
                    logger.warning("particle %s dropped on %s: %s", particle.id, self.peer_id, err.message)
                    return
            state.verified = True
            self._states[key] = state
            self._state_bytes += state.held_bytes()
            heapq.heappush(self._deadlines, (particle.deadline_ms, key))
        self.particles_processed += 1
        self._execute(key, state, particle.data, {})

    def _execute(self, key: ParticleKey, state: _ParticleState, data: bytes, results: dict[int, CallResult]) -> None:
        particle = state.particle
        hooks = self._hooks.get(particle.id)
        while True:
            params = RunParameters(
                init_peer_id=particle.init_peer_id,
                current_peer_id=self.peer_id,
                timestamp_ms=particle.timestamp_ms,
                ttl_ms=particle.ttl_ms,
                particle_id=particle.id,
                secret_key_bytes=self.key_pair.secret_seed(),
                **self._size_limits(particle.init_peer_id),
            )
            try:
                outcome = self.avm.invoke(
                    particle.script, state.prev_data, data, params, results, guest=self._is_guest(particle)
                )
            except AvmError as err:
                self._fail(state, hooks, err.message)
                return
            state.invokes += 1
            if outcome.ret_code != 0:
                self._fail(state, hooks, _avm_error_text(outcome))
                return
            self._state_bytes += len(outcome.data) - len(state.prev_data)
            state.prev_data = outcome.data
            for target in outcome.next_peer_pks:
                self._send(target, particle.with_data(outcome.data))
            results = {}
            for call_id, request in outcome.call_requests.items():
                answer = self._call(key, particle, call_id, request, hooks)
                if isinstance(answer, _Submitted):
                    state.pending_calls += 1
                elif isinstance(answer, Deferred):
                    self._defer(key, state, call_id, answer)
                else:
                    results[call_id] = answer
            if results and hooks is not None and hooks.finished is not None and hooks.finished():
                return  # the initiator has its answer and forgets the particle: no invoke for nothing
            if not results:
                if state.pending_calls == 0:
                    if not outcome.call_requests:
                        self._report_script(particle.id, ok=True)
                    if hooks is not None and hooks.on_idle is not None:
                        hooks.on_idle()
                return
            data = b""

    def _defer(self, key: ParticleKey, state: _ParticleState, call_id: int, answer: Deferred) -> None:
        value = CallResult(1, answer.error) if answer.error is not None else _result(answer.value)
        heapq.heappush(self._events, (time.monotonic() + answer.delay_s, next(self._seq), key, call_id, value))
        state.pending_calls += 1

    # ---- calls on workers -------------------------------------------------------------------------------------

    def _post_completion(self, ticket: int, answer: object) -> None:
        """A worker finished a call (worker thread): queue the answer and wake the driver."""
        with self._completions_lock:
            self._completions.append((ticket, answer))
        for listener in list(self._wake_listeners):
            listener()

    def _feed_completions(self) -> bool:
        with self._completions_lock:
            done = list(self._completions)
            self._completions.clear()
        batches: dict[ParticleKey, dict[int, CallResult]] = {}
        for ticket, answer in done:
            entry = self._in_flight.pop(ticket, None)
            state = None if entry is None else self._states.get(entry.key)
            if entry is None or state is None:
                continue  # the particle gave up on it (deadline), expired or was forgotten
            state.pending_calls -= 1
            if isinstance(answer, Deferred):
                self._defer(entry.key, state, entry.call_id, answer)
                continue
            if not isinstance(answer, CallResult):
                answer = CallResult(1, f"Error: internal error in {entry.service_id}.{entry.function}: {answer!r}")
            batches.setdefault(entry.key, {})[entry.call_id] = answer
        self._feed(batches, guests_wait=True)
        return bool(done)

    def _expire_calls(self) -> bool:
        """Answer the calls whose deadline passed with an error; their workers go on until the call ends."""
        now = time.monotonic()
        late = [ticket for ticket, entry in self._in_flight.items() if entry.deadline <= now]
        batches: dict[ParticleKey, dict[int, CallResult]] = {}
        for ticket in late:
            entry = self._in_flight.pop(ticket)
            self._workers.cancel(entry.job)
            state = self._states.get(entry.key)
            if state is None:
                continue
            state.pending_calls -= 1
            message = (
                f"Error: service {entry.service_id} function {entry.function} did not answer within "
                f"{self.config.call_timeout_s:g} s (call_timeout_s)"
            )
            logger.warning("particle %s on %s: %s", entry.key[0], self.peer_id, message)
            batches.setdefault(entry.key, {})[entry.call_id] = CallResult(1, message)
        self._feed(batches, guests_wait=True)
        return bool(late)

    def _feed(self, batches: dict[ParticleKey, dict[int, CallResult]], *, guests_wait: bool = False) -> None:
        """Feed call results back; with `guests_wait`, strangers' results queue for `_run_guests` instead."""
        for key, results in batches.items():
            state = self._states.get(key)
            if state is None:
                continue
            if guests_wait and self._is_guest(state.particle):
                self._guest_feeds.append((key, results))
            else:
                self._execute(key, state, b"", results)

    def _is_guest(self, particle: Particle) -> bool:
        """A stranger's particle on a restricted peer: its invokes run under size and time limits."""
        return self.policy.restricted and not self.policy.is_privileged(particle.init_peer_id)

    def _size_limits(self, init_peer_id: str) -> _SizeLimits:
        """AquaVM's hard size limits for a stranger's particle on a restricted peer (none for the host and
        management peers, none on an open test peer)."""
        if self.policy.is_privileged(init_peer_id) or not self.policy.restricted:
            return {}
        return {
            "air_size_limit": self.config.guest_air_size_limit,
            "particle_size_limit": self.config.guest_particle_size_limit,
            "call_result_size_limit": self.config.guest_call_result_size_limit,
            "hard_limit_enabled": True,
        }

    def _fail(self, state: _ParticleState, hooks: ParticleHooks | None, message: str) -> None:
        particle = state.particle
        logger.warning("particle %s failed on %s: %s", particle.id, self.peer_id, message)
        state.failed = True
        self._report_script(particle.id, ok=False)
        if hooks is not None and hooks.on_error is not None:
            hooks.on_error(message)
        if self.failure_listener is not None:
            self.failure_listener(particle, message)

    def _report_script(self, particle_id: str, *, ok: bool) -> None:
        entry = self._script_runs.pop(particle_id, None)
        if entry is not None:
            script_id, run = entry
            self.scheduler.report(script_id, ok, run)

    def _script_hooks(self, run: ScriptRun, run_args: JsonObject, script_id: str) -> ParticleHooks:
        """A script runs with this peer as its init peer, so this peer answers what a compiled Aqua function asks
        its caller for: `-relay-` is this peer, any other `getDataSrv.<name>` the script's own arguments (given
        to `script.add`); `callbackSrv.response` and `errorHandlingSrv.error` are kept as the run's result and
        error (what `script` history and `fluence-dao status` show)."""

        def argument(args: Args, ctx: CallContext) -> JsonValue:
            if ctx.function_name not in run_args:
                raise BuiltinError(
                    f"Failed to get argument {ctx.function_name} for script {script_id}: not among the arguments "
                    f"given to script.add ({', '.join(sorted(run_args)) or 'none'})"
                )
            return run_args[ctx.function_name]

        def result(args: Args, ctx: CallContext) -> None:
            run.result = args[0] if len(args) == 1 else args

        def error(args: Args, ctx: CallContext) -> None:
            failure = args[0] if args else {}
            run.error = str(failure.get("message", failure)) if isinstance(failure, dict) else str(failure)

        def avm_error(message: str) -> None:
            run.error = message

        return ParticleHooks(
            handlers={
                ("getDataSrv", "-relay-"): lambda args, ctx: self.peer_id,
                ("getDataSrv", "*"): argument,
                ("callbackSrv", "response"): result,
                ("errorHandlingSrv", "error"): error,
            },
            on_error=avm_error,
        )

    def _send(self, target: str, particle: Particle) -> None:
        if target == self.peer_id:
            self.receive(particle)
            return
        if self.transport is None or not self.transport.send(self.peer_id, target, particle):
            logger.warning("particle %s: peer %s is not reachable from %s", particle.id, target, self.peer_id)

    def _call(
        self, key: ParticleKey, particle: Particle, call_id: int, request: CallRequest, hooks: ParticleHooks | None
    ) -> CallResult | Deferred | _Submitted:
        """Answer a call request now, or hand it to a worker (`_SUBMITTED`) when it may block."""
        ctx = CallContext(peer=self, particle=particle, tetraplets=request.tetraplets, call_id=call_id)
        service_id, function = request.service_id, request.function_name
        ctx.function_name = function
        run: Callable[[], object]
        lane: str | None = None
        local = None
        if hooks is not None:  # ("service", "*") answers every function of that service
            local = hooks.handlers.get((service_id, function)) or hooks.handlers.get((service_id, "*"))
        if local is not None:
            handler_fn = local

            def run() -> object:
                return handler_fn(request.arguments, ctx)

        elif service_id in self.builtins:
            builtin = self.builtins[service_id]

            def run() -> object:
                return builtin.call(function, request.arguments, ctx)

            if _blocks(service_id, function, builtin):
                lane = f"builtin:{service_id}"
        else:
            record = self.services.resolve(service_id)
            if record is None:
                return CallResult(1, f"Service with id '{service_id}' not found (function {function})")
            if self._is_guest(particle) and (size := _size(request.arguments)) > self.config.guest_call_args_bytes:
                return CallResult(
                    1,
                    f"Error: the arguments of {service_id}.{function} are {size} bytes; a peer that is neither the host nor "
                    f"a management peer may send at most {self.config.guest_call_args_bytes} "
                    "per service call",
                )
            call_parameters = self._call_parameters(particle, record, request)

            def run() -> object:
                return self.services.call(record, function, request.arguments, call_parameters)

            lane = f"service:{record.id}"  # one worker per instance: a Marine instance is single-threaded
        if lane is None:
            return self._run_call(run, service_id, function)
        job = CallJob(next(self._tickets), lambda: self._run_call(run, service_id, function))
        if not self._workers.submit(lane, job, priority=self.policy.is_privileged(particle.init_peer_id)):
            message = (
                f"Error: service {service_id} is busy: {self.config.call_queue_limit} calls already wait for it "
                "(call_queue_limit); try again later"
            )
            logger.warning("particle %s on %s: %s (function %s)", particle.id, self.peer_id, message, function)
            return CallResult(1, message)
        deadline = time.monotonic() + self.config.call_timeout_s
        self._in_flight[job.ticket] = _InFlight(key, call_id, job, deadline, service_id, function)
        return _SUBMITTED

    def _run_call(self, run: Callable[[], object], service_id: str, function: str) -> CallResult | Deferred:
        """Run one call (on the loop thread or a worker) and turn its value or error into a call result."""
        try:
            value = run()
            return value if isinstance(value, Deferred) else _result(value)
        except BuiltinError as err:
            logger.debug("call %s.%s failed on %s: %s", service_id, function, self.peer_id, err.result)
            return CallResult(1, err.result)
        except FluenceDaoError as err:
            logger.warning("service call %s.%s failed on %s: %s", service_id, function, self.peer_id, err.message)
            return CallResult(1, f"Error: service '{service_id}' function '{function}' failed: {err.message}")
        except Exception as err:
            logger.exception("internal error in call %s.%s on %s", service_id, function, self.peer_id)
            return CallResult(1, f"Error: internal error in {service_id}.{function}: {type(err).__name__}: {err}")

    def _call_parameters(self, particle: Particle, record: ServiceRecord, request: CallRequest) -> CallParameters:
        # lazy: wasmtime ~0.14 s; `peer info` needs none
        from fluence_dao.marine import CallParameters, ParticleParameters, SecurityTetraplet

        tetraplets = [
            [
                SecurityTetraplet(
                    peer_pk=str(t.get("peer_pk", "")),
                    service_id=str(t.get("service_id", "")),
                    function_name=str(t.get("function_name", "")),
                    lens=str(t.get("lens", t.get("json_path", "")) or ""),
                )
                for t in (arg if isinstance(arg, list) else [])
                if isinstance(t, dict)
            ]
            for arg in request.tetraplets
        ]
        return CallParameters(
            particle=ParticleParameters(
                id=particle.id,
                init_peer_id=particle.init_peer_id,
                timestamp=particle.timestamp_ms,
                ttl=particle.ttl_ms,
                script=particle.script,
                signature=particle.signature,
                token="",
            ),
            service_id=record.id,
            service_creator_peer_id=record.owner_id,
            host_id=self.peer_id,
            worker_id=self.peer_id,
            tetraplets=tetraplets,
        )

    def _expire(self) -> None:
        now = now_ms()
        while self._deadlines and self._deadlines[0][0] <= now:
            _, key = heapq.heappop(self._deadlines)
            state = self._states.pop(key, None)
            if state is None:
                continue  # forgotten earlier
            self._drop_state(key, state)
            entry = self._script_runs.pop(key[0], None)
            if entry is not None and entry[1].ok is None:
                entry[1].error = entry[1].error or "the run did not finish within its TTL"
                self.scheduler.report(entry[0], False, entry[1])
            self.vault.cleanup(key[0])
            hooks = self._hooks.pop(key[0], None)
            if hooks is not None and hooks.on_expired is not None:
                hooks.on_expired()
        if self._events and not self._states:
            self._events.clear()

    def forget(self, particle_id: str) -> None:
        """Drop a finished particle's state early (the client does this once it has its answer)."""
        for key in [k for k in self._states if k[0] == particle_id]:
            self._drop_state(key, self._states.pop(key))
        self._hooks.pop(particle_id, None)
        self.vault.cleanup(particle_id)
        self._events = [e for e in self._events if e[2][0] != particle_id]
        heapq.heapify(self._events)

    def _drop_state(self, key: ParticleKey, state: _ParticleState) -> None:
        """Forget what a dropped particle held: its bytes and the worker calls it still waits for."""
        self._state_bytes -= state.held_bytes()
        for ticket in [t for t, entry in self._in_flight.items() if entry.key == key]:
            self._workers.cancel(self._in_flight.pop(ticket).job)

    def __repr__(self) -> str:
        return f"Peer({self.peer_id})"


def _blocks(service_id: str, function: str, handler: BuiltinHandler) -> bool:
    """Whether a builtin call may block (I/O, wasm compilation) and so runs on a worker."""
    declared = getattr(handler, "blocking_functions", None)
    names = frozenset(declared) if declared is not None else BLOCKING_BUILTINS.get(service_id, frozenset())
    return "*" in names or function in names


def _size(value: JsonValue) -> int:
    """About how many bytes `value` takes as JSON (strings and byte arrays by length), without encoding it."""
    if isinstance(value, str | bytes | bytearray):
        return len(value) + 2
    if isinstance(value, list | tuple):
        return 2 + sum(_size(v) + 1 for v in value)
    if isinstance(value, dict):
        return 2 + sum(len(str(k)) + 4 + _size(v) for k, v in value.items())
    return 8


def _avm_error_text(outcome: InterpreterOutcome) -> str:
    return f"AquaVM ret_code {outcome.ret_code}: {outcome.error_message}"


def _result(value: object) -> CallResult:
    """A builtin's or service's value -> call result: None is nox's empty outcome (""), JSON_NULL is null."""
    if value is JSON_NULL:
        return CallResult(0, None)
    return CallResult(0, "" if value is None else _json(value))


def _json(value: object) -> JsonValue:
    """Python values from the Marine host -> JSON values (bytes become arrays of numbers, as Aqua's []u8)."""
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, bytes | bytearray):
        return list(value)
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    raise TypeError(f"a call returned a {type(value).__name__}, which is not a JSON value")
