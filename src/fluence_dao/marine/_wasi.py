"""WASI for one module instance: env vars, mapped dirs, guest stdout/stderr to the logger, no network.

wasmtime's WASI preview 1 gives a guest nothing it is not handed: no sockets (none are preopened), no
files outside the preopened `mapped_dirs`, no inherited stdio. Guest stdout lines are logged at INFO and
stderr lines at WARNING on `fluence_dao.marine.guest.<name>`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import wasmtime

from fluence_dao.errors import ModuleLoadError
from fluence_dao.marine._config import ModuleConfig

_WASM_LOG_LEVELS = ((logging.DEBUG - 5, "trace"), (logging.DEBUG, "debug"), (logging.INFO, "info"))


def guest_logger(name: str) -> logging.Logger:
    return logging.getLogger(f"fluence_dao.marine.guest.{name}")


def wasm_log_level(log: logging.Logger) -> str:
    """The `WASM_LOG` filter matching the Python logger, so a Rust guest does not format what we drop."""
    level = log.getEffectiveLevel()
    for threshold, name in _WASM_LOG_LEVELS:
        if level <= threshold:
            return name
    return "warn" if level <= logging.WARNING else "error"


class _LineLogger:
    """Collects written bytes and logs whole lines."""

    def __init__(self, log: logging.Logger, level: int, stream: str, enabled: bool) -> None:
        self.log, self.level, self.stream, self.enabled = log, level, stream, enabled
        self.pending = b""

    def __call__(self, data: bytes) -> int:
        if self.enabled:
            self.pending += data
            *lines, self.pending = self.pending.split(b"\n")
            for line in lines:
                self.log.log(self.level, "[%s] %s", self.stream, line.decode("utf-8", errors="replace"))
            if len(self.pending) > 65536:
                self.log.log(self.level, "[%s] %s", self.stream, self.pending.decode("utf-8", errors="replace"))
                self.pending = b""
        return len(data)


def wasi_config(config: ModuleConfig) -> wasmtime.WasiConfig:
    log = guest_logger(config.name)
    wasi = wasmtime.WasiConfig()
    envs = dict(config.envs)
    envs.setdefault("WASM_LOG", wasm_log_level(log) if config.logger_enabled else "off")
    wasi.env = sorted(envs.items())
    wasi.argv = [config.name]
    for guest_path, host_path in config.mapped_dirs.items():
        if not Path(host_path).is_dir():
            raise ModuleLoadError(
                f"module {config.name!r}: mapped dir {guest_path!r} -> {host_path!r} is not a directory",
                module=config.name,
                path=str(host_path),
            )
        wasi.preopen_dir(str(host_path), guest_path)
    wasi.stdout_custom = _LineLogger(log, logging.INFO, "stdout", config.logger_enabled)
    wasi.stderr_custom = _LineLogger(log, logging.WARNING, "stderr", config.logger_enabled)
    return wasi
