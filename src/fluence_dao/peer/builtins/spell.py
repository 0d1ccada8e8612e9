"""`spell` (Aqua `PeerSpell("spell")` of @fluencelabs/spell): install, remove, list, update_trigger_config; and
each spell's own service (id = the spell id, the `Spell` service of `spell_service.aqua`).

Semantics follow nox's sorcerer and fluencelabs/spell (see fluence_dao.peer.spells): only the host and management
peers install, remove or reconfigure spells (nox: the worker itself, its creator or the peer manager; the root
worker is the host); `install(script, init_args, config, alias)` stores `init_args`' fields in the KV as JSON text;
inside a spell's particles the service id `spell` (nox's alias) names the spell itself, `getDataSrv` answers
`spell_id`, `-relay-` (the host) and any KV key (parsed as JSON), `errorHandlingSrv.error` stores the error in the
spell and `callbackSrv.response` merges an object result into the KV.

fluence-dao's additions to PeerSpell: `runs(spell_id)` (the spell's recent runs and skipped ticks, as the
`script` builtin's `runs`) and `info(spell_id)` (its clock and run counters), for `fluence-dao status`.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, TypeVar, cast

from fluence_dao.peer.args import OBJECT, STR, U32, U64, Kind, arg, opt
from fluence_dao.peer.calls import BuiltinError, BuiltinService, CallContext, CallValue, Function, ParticleHooks, export
from fluence_dao.peer.particle import Particle
from fluence_dao.peer.scheduler import ScriptRun
from fluence_dao.peer.spells import Spell, SpellConfigError, SpellStore, spell_id_of_particle
from fluence_dao.util.json_types import Args, JsonObject, JsonValue

if TYPE_CHECKING:  # node imports the builtins
    from fluence_dao.peer.node import Peer

logger = logging.getLogger(__name__)

_Scalar = TypeVar("_Scalar", str, int)  # what a spell's KV holds besides string lists
PEER_SPELL_FUNCTIONS = ("install", "remove", "list", "update_trigger_config", "runs", "info")


def _ok(**fields: JsonValue) -> JsonObject:
    return {"success": True, "error": "", **fields}


def _fail(error: str, /, **fields: JsonValue) -> JsonObject:
    return {"success": False, "error": error, **fields}


class SpellService(BuiltinService):
    service_id = "spell"

    def __init__(self) -> None:
        self.store = SpellStore()
        self._peers: set[int] = set()

    def call(self, function_name: str, args: Args, ctx: CallContext) -> CallValue:
        if function_name not in PEER_SPELL_FUNCTIONS:
            # nox resolves the alias "spell" to the spell itself inside the spell's particles
            own = spell_id_of_particle(ctx.particle.id)
            spell = self.store.get(own) if own else None
            if spell is not None:
                return SpellApi(self.store, spell).call(function_name, args, ctx)
        return super().call(function_name, args, ctx)

    # ---- PeerSpell ----------------------------------------------------------------------------------------------

    def _guard(self, ctx: CallContext, action: str) -> None:
        if not ctx.peer.policy.is_privileged(ctx.init_peer_id):
            raise BuiltinError(
                f"Failed to {action} on {ctx.peer.peer_id}: only the host {ctx.peer.peer_id} or a management peer "
                f"can do that; init_peer_id={ctx.init_peer_id}"
            )

    @export()
    def install(self, args: Args, ctx: CallContext) -> str:
        script = arg(args, 0, "script", STR)
        init_data = arg(args, 1, "data", OBJECT, "Map<String, Value>")
        config = arg(args, 2, "trigger_config", OBJECT, "TriggerConfig")
        alias = opt(args, 3, "alias", STR)
        self._guard(ctx, "install spell")
        ctx.peer.check_air(script)
        if alias and (alias in ctx.peer.builtins or ctx.peer.services.resolve(alias) is not None):
            raise BuiltinError(f"Failed to add alias {alias} for a new spell: the name is taken on this peer")
        try:
            spell = self.store.install(script, init_data, config, alias)
        except SpellConfigError as err:
            raise BuiltinError(f"can't install a spell: {err}") from err
        handle = _SpellHandle(self.store, spell.id)
        ctx.peer.register_builtin(spell.id, handle)
        if spell.alias:
            ctx.peer.register_builtin(spell.alias, handle)
        self.attach(ctx.peer)
        return spell.id

    @export()
    def remove(self, args: Args, ctx: CallContext) -> None:
        target = arg(args, 0, "spell_id", STR)
        self._guard(ctx, f"remove spell {target}")
        spell = self.store.get(target)
        if spell is None:
            raise BuiltinError(f"Failed to remove spell {target}: no spell with this id or alias on this peer")
        self.store.remove(spell.id)
        for name in (spell.id, spell.alias):
            if name and isinstance(ctx.peer.builtins.get(name), _SpellHandle):
                del ctx.peer.builtins[name]
        return None

    @export("list")
    def list_spells(self, args: Args, ctx: CallContext) -> list[str]:
        return self.store.ids()

    def _spell(self, args: Args, function: str) -> Spell:
        target = arg(args, 0, "spell_id", STR)
        spell = self.store.get(target)
        if spell is None:
            raise BuiltinError(
                f"Failed to get {function} of spell {target}: no spell with this id or alias on this peer"
            )
        return spell

    @export()
    def runs(self, args: Args, ctx: CallContext) -> list[JsonObject]:
        """The spell's recent runs and skipped ticks, oldest first (as `script.runs`)."""
        return [run.to_aqua() for run in list(self._spell(args, "runs").history)]

    @export()
    def info(self, args: Args, ctx: CallContext) -> JsonObject:
        """The spell's clock and run counters (Aqua `IntervalInfo`)."""
        return self._spell(args, "info").info()

    @export()
    def update_trigger_config(self, args: Args, ctx: CallContext) -> None:
        target = arg(args, 0, "spell_id", STR)
        config = arg(args, 1, "config", OBJECT, "TriggerConfig")
        self._guard(ctx, f"update spell config {target}")
        spell = self.store.get(target)
        if spell is None:
            raise BuiltinError(f"Failed to update spell config {target}: no spell with this id or alias")
        try:
            self.store.update_trigger_config(spell, config)
        except SpellConfigError as err:
            raise BuiltinError(f"can't update a spell {target} config: {err}") from err
        return None

    # ---- running spells -----------------------------------------------------------------------------------------

    def attach(self, peer: Peer) -> None:
        """Let `peer` run this service's spells when their clocks fire (idempotent)."""
        if id(peer) not in self._peers:
            self._peers.add(id(peer))
            peer.add_particle_source(self)

    def next_wakeup_s(self) -> float | None:
        return self.store.next_wakeup_s()

    def due_particles(self, peer: Peer, now_s: float) -> list[tuple[Particle, ParticleHooks]]:

        out = []
        for spell, k, late_s in self.store.due(now_s):
            counter = spell.counter()
            spell.kv["counter"] = counter + 1
            event = {"timer": [{"timestamp": int(time.time())}], "peer": []}
            spell.kv["trigger"] = json.dumps(event, separators=(",", ":"))
            particle = Particle.create(
                spell.script,
                peer.key_pair,
                ttl_ms=peer.config.script_ttl_ms,
                particle_id=f"spell_{spell.id}_{counter}",
            )
            run = self.store.start_run(spell, k, late_s, particle.id)
            out.append((particle, self._hooks(peer, spell, run)))
        return out

    def _hooks(self, peer: Peer, spell: Spell, run: ScriptRun) -> ParticleHooks:
        """What the spell's particle gets from this peer, and how its run record learns the outcome: the
        response (the run's result), an error, AquaVM failing, going idle here (finished) or its TTL passing."""

        store = self.store

        def spell_arg(args: Args, ctx: CallContext) -> JsonValue:
            key = ctx.function_name
            value = spell.kv.get(key)
            if not isinstance(value, str):
                raise BuiltinError(f"Failed to get argument {key} for spell {spell.id}: value not found")
            try:
                parsed: JsonValue = json.loads(value)
            except ValueError as err:
                raise BuiltinError(f"Failed to parse argument `{key} -> {value}` for spell {spell.id}: {err}") from err
            return parsed

        def store_error(args: Args, ctx: CallContext) -> None:
            failure = args[0] if args else {}
            run.error = str(failure.get("message", failure)) if isinstance(failure, dict) else str(failure)
            result = SpellApi(store, spell).fn_store_error([*args, ctx.particle.timestamp_ms], ctx)
            if not result["success"]:
                raise BuiltinError(f"Failed to store error {args} for spell {spell.id}: {result['error']}")

        def store_response(args: Args, ctx: CallContext) -> None:
            run.result = args[0] if len(args) == 1 else args
            if args and args[0] is not None:
                result = SpellApi(store, spell).fn_set_json_fields([json.dumps(args[0])], ctx)
                if not result["success"]:
                    raise BuiltinError(f"Failed to store response for spell {spell.id}: {result['error']}")

        def failed(message: str) -> None:
            logger.warning("spell %s run failed: %s", spell.id, message)
            run.error = run.error or message
            store.finish_run(spell, run, avm_ok=False)

        def expired() -> None:
            if run.ok is None:
                run.error = run.error or "the run did not finish within its TTL"
                store.finish_run(spell, run, avm_ok=False)

        return ParticleHooks(
            handlers={
                ("getDataSrv", "spell_id"): lambda args, ctx: spell.id,
                ("getDataSrv", "-relay-"): lambda args, ctx: peer.peer_id,
                ("getDataSrv", "*"): spell_arg,
                ("errorHandlingSrv", "error"): store_error,
                ("callbackSrv", "response"): store_response,
            },
            on_error=failed,
            on_idle=lambda: store.finish_run(spell, run, avm_ok=True),
            on_expired=expired,
        )


class _SpellHandle:
    """The builtin registered under a spell's id (and alias): its `Spell` service."""

    def __init__(self, store: SpellStore, spell_id: str) -> None:
        self.store = store
        self.spell_id = spell_id

    def call(self, function_name: str, args: Args, ctx: CallContext) -> CallValue:
        spell = self.store.get(self.spell_id)
        if spell is None:
            raise BuiltinError(f"Service with id '{self.spell_id}' not found (function {function_name})")
        return SpellApi(self.store, spell).call(function_name, args, ctx)


class SpellApi:
    """The functions of one spell's service (`Spell` in spell_service.aqua), with spell.wasm's result shapes."""

    def __init__(self, store: SpellStore, spell: Spell) -> None:
        self.store = store
        self.spell = spell

    def call(self, function_name: str, args: Args, ctx: CallContext) -> CallValue:
        handler: Function | None = getattr(self, f"fn_{function_name}", None)
        if handler is None:
            names = sorted(n[3:] for n in dir(self) if n.startswith("fn_"))
            raise BuiltinError(
                f"Function '{function_name}' not found on spell {self.spell.id} (functions: {', '.join(names)})"
            )
        return handler(args, ctx)

    # ---- roles (spell.wasm auth) --------------------------------------------------------------------------------

    def _by_spell(self, ctx: CallContext) -> bool:
        return spell_id_of_particle(ctx.particle.id) == self.spell.id and ctx.init_peer_id == ctx.peer.peer_id

    def _write_denied(self, key: str, ctx: CallContext) -> str | None:
        if self._by_spell(ctx):
            return None
        prefix = key.split("_", 1)[0] if "_" in key else ""
        if ctx.init_peer_id == ctx.peer.peer_id and prefix in ("h", "hw"):
            return None
        return (
            f"Only the spell itself may modify key {key!r} (keys prefixed h_ or hw_ also the host); "
            f"init_peer_id={ctx.init_peer_id}"
        )

    # ---- KV -----------------------------------------------------------------------------------------------------

    def _set(self, args: Args, ctx: CallContext, kind: Kind[_Scalar]) -> JsonObject:
        key, value = arg(args, 0, "key", STR), arg(args, 1, "value", kind)
        if denied := self._write_denied(key, ctx):
            return _fail(denied)
        self.spell.kv[key] = value
        return _ok()

    def _get(self, args: Args, kind: type[_Scalar], absent: _Scalar) -> JsonObject:
        value = self.spell.kv.get(arg(args, 0, "key", STR))
        if isinstance(value, kind):
            return _ok(value=value, absent=False)
        return _ok(value=absent, absent=True)

    def fn_set_string(self, args: Args, ctx: CallContext) -> JsonObject:
        return self._set(args, ctx, STR)

    def fn_get_string(self, args: Args, ctx: CallContext) -> JsonObject:
        return self._get(args, str, "")

    def fn_set_u32(self, args: Args, ctx: CallContext) -> JsonObject:
        return self._set(args, ctx, U32)

    def fn_get_u32(self, args: Args, ctx: CallContext) -> JsonObject:
        return self._get(args, int, 0)

    def fn_exists(self, args: Args, ctx: CallContext) -> JsonObject:
        return _ok(value=arg(args, 0, "key", STR) in self.spell.kv)

    def fn_remove_key(self, args: Args, ctx: CallContext) -> JsonObject:
        key = arg(args, 0, "key", STR)
        if denied := self._write_denied(key, ctx):
            return _fail(denied)
        self.spell.kv.pop(key, None)
        return _ok()

    def fn_list_push_string(self, args: Args, ctx: CallContext) -> JsonObject:
        key, value = arg(args, 0, "key", STR), arg(args, 1, "value", STR)
        if denied := self._write_denied(key, ctx):
            return _fail(denied)
        current = self.spell.kv.get(key)
        if current is not None and not isinstance(current, list):
            return _fail(f"key {key!r} holds a {type(current).__name__}, not a list")
        if isinstance(current, list):
            current.append(value)
        else:
            self.spell.kv[key] = [value]
        return _ok()

    def fn_list_get_strings(self, args: Args, ctx: CallContext) -> JsonObject:
        value = self.spell.kv.get(arg(args, 0, "key", STR))
        return _ok(value=list(value) if isinstance(value, list) else [])

    def fn_list_pop_string(self, args: Args, ctx: CallContext) -> JsonObject:
        key = arg(args, 0, "key", STR)
        if denied := self._write_denied(key, ctx):
            return _fail(denied, value="", absent=False)
        value = self.spell.kv.get(key)
        if not isinstance(value, list) or not value:
            return _ok(value="", absent=True)
        popped = value.pop()
        if not value:
            del self.spell.kv[key]
        return _ok(value=popped, absent=False)

    def fn_list_remove_string(self, args: Args, ctx: CallContext) -> JsonObject:
        key, item = arg(args, 0, "key", STR), arg(args, 1, "value", STR)
        if denied := self._write_denied(key, ctx):
            return _fail(denied)
        value = self.spell.kv.get(key)
        if isinstance(value, list):
            value[:] = [v for v in value if v != item]
            if not value:
                del self.spell.kv[key]
        return _ok()

    def fn_set_json_fields(self, args: Args, ctx: CallContext) -> JsonObject:
        text = arg(args, 0, "json", STR)
        try:
            fields = json.loads(text)
        except ValueError as err:
            return _fail(f"set_json_fields: not JSON: {err}")
        if not isinstance(fields, dict):
            return _fail(f"set_json_fields: expected a JSON object, got {text[:80]}")
        for key in fields:
            if denied := self._write_denied(str(key), ctx):
                return _fail(denied)
        for key, value in fields.items():
            self.spell.kv[str(key)] = json.dumps(value, separators=(",", ":"))
        return _ok()

    # ---- script and trigger config ------------------------------------------------------------------------------

    def fn_get_script(self, args: Args, ctx: CallContext) -> JsonObject:
        return _ok(value=self.spell.script)

    def fn_set_script(self, args: Args, ctx: CallContext) -> JsonObject:
        script = arg(args, 0, "script", STR)
        if not (self._by_spell(ctx) or ctx.peer.policy.is_privileged(ctx.init_peer_id)):
            return _fail("set_script can be called only by the spell, the host or a management peer")
        try:
            ctx.peer.check_air(script)
        except BuiltinError as err:
            return _fail(err.result)
        self.spell.script = script
        return _ok()

    def fn_script_cid(self, args: Args, ctx: CallContext) -> JsonObject:
        return _ok(value=self.spell.script_cid())

    def fn_get_trigger_config(self, args: Args, ctx: CallContext) -> JsonObject:
        return _ok(config=cast(JsonObject, self.spell.trigger_config))  # a TypedDict of JSON fields

    def fn_set_trigger_config(self, args: Args, ctx: CallContext) -> JsonObject:
        config = arg(args, 0, "config", OBJECT, "TriggerConfig")
        if not (self._by_spell(ctx) or ctx.peer.policy.is_privileged(ctx.init_peer_id)):
            return _fail("set_trigger_config can be called only by the spell, the host or a management peer")
        try:
            self.store.update_trigger_config(self.spell, config)
        except SpellConfigError as err:
            return _fail(str(err))
        return _ok()

    # ---- logs, errors, mailbox ----------------------------------------------------------------------------------

    def fn_store_log(self, args: Args, ctx: CallContext) -> JsonObject:
        message = arg(args, 0, "log", STR)
        if not self._by_spell(ctx):
            return _fail("store_log can be called only by the associated spell script")
        self.spell.logs.append({"timestamp": int(time.time()), "message": message})
        return _ok()

    def fn_get_logs(self, args: Args, ctx: CallContext) -> JsonObject:
        return _ok(logs=list(self.spell.logs))

    def fn_store_error(self, args: Args, ctx: CallContext) -> JsonObject:
        error = arg(args, 0, "error", OBJECT, "LastError")
        error_idx = arg(args, 1, "error_idx", U32)
        arg(args, 2, "particle_timestamp", U64)
        if not self._by_spell(ctx):
            return _fail("store_error can be called only by the associated spell script")
        code = error.get("error_code")
        last_error: JsonObject = {
            "error_code": int(code) if isinstance(code, int | float | str) and code else 0,
            "instruction": str(error.get("instruction", "")),
            "message": str(error.get("message", "")),
            "peer_id": str(error.get("peer_id", "")),
        }
        self.spell.store_error(ctx.particle.id, {"last_error": last_error, "error_idx": error_idx})
        return _ok()

    def fn_get_errors(self, args: Args, ctx: CallContext) -> list[JsonObject]:
        return list(self.spell.errors.get(arg(args, 0, "particle_id", STR), []))

    def fn_get_all_errors(self, args: Args, ctx: CallContext) -> JsonObject:
        particle_errors: list[JsonValue] = [
            {"particle_id": pid, "errors": list(e)} for pid, e in self.spell.errors.items()
        ]
        return _ok(particle_errors=particle_errors)

    def fn_push_mailbox(self, args: Args, ctx: CallContext) -> JsonObject:
        message = arg(args, 0, "message", STR)
        self.spell.mailbox.append({"init_peer_id": ctx.init_peer_id, "timestamp": int(time.time()), "message": message})
        return _ok()

    def fn_get_mailbox(self, args: Args, ctx: CallContext) -> JsonObject:
        return _ok(messages=list(reversed(self.spell.mailbox)))  # newest first, as spell.wasm

    def fn_pop_mailbox(self, args: Args, ctx: CallContext) -> JsonObject:
        if not self._by_spell(ctx):
            return _fail("pop_mailbox can be called only by the associated spell script", message=[], absent=False)
        if not self.spell.mailbox:
            return _ok(message=[], absent=True)
        return _ok(message=[self.spell.mailbox.pop()], absent=False)
