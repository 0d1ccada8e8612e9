"""MarineService: the modules of one service, linked by import namespace as Marine links them.

Modules are given in dependency order with the facade LAST (a blueprint's order). A module's import
`<ns>.<fn>` where `<ns>` is the `ModuleConfig.name` of an earlier module is linked to that module's export
`<fn>`: the host lifts the arguments from the caller's memory into Python values, calls the callee (lowering
them into its memory), lifts its result and lowers it into the caller's memory, handing it over with
`set_result_ptr`/`set_result_size` as Marine's interface-types adapters do. The call parameters of the
outer call are passed on to the callee; the caller's time bound keeps running during the nested call.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from fluence_dao.errors import ModuleLoadError
from fluence_dao.marine._abi import CallArgs
from fluence_dao.marine._config import CallParameters, ModuleConfig
from fluence_dao.marine.module import MarineModule
from fluence_dao.util.marine_interface import MarineValue, ModuleInterface

WasmSource = str | os.PathLike[str] | bytes


class MarineService:
    """Several modules as one service; `call` goes to the facade (the last module)."""

    def __init__(self, modules: Sequence[tuple[ModuleConfig, WasmSource]]) -> None:
        if not modules:
            raise ModuleLoadError("a service needs at least one module (the facade, last)")
        loaded: dict[str, MarineModule] = {}
        for config, wasm in modules:
            if config.name in loaded:
                raise ModuleLoadError(f"two modules of the service are named {config.name!r}", module=config.name)
            loaded[config.name] = MarineModule.load(wasm, config, service_modules=loaded)
        self.modules: dict[str, MarineModule] = loaded
        self.facade: MarineModule = loaded[modules[-1][0].name]

    @property
    def interface(self) -> ModuleInterface:
        """The facade's interface: what callers of the service see."""
        return self.facade.interface

    def call(
        self, function: str, args: CallArgs = (), call_parameters: CallParameters | None = None
    ) -> MarineValue | None:
        """Call the facade's `function` (see `MarineModule.call`)."""
        result: MarineValue | None = self.facade.call(function, args, call_parameters=call_parameters)
        return result

    def module(self, name: str) -> MarineModule:
        try:
            return self.modules[name]
        except KeyError:
            raise ModuleLoadError(
                f"no module {name!r} in the service (modules: {', '.join(self.modules)})", module=name
            ) from None
