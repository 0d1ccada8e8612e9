"""A real headless Chromium (Debian's `chromium`) driven over the DevTools protocol, for tests of web pages.

`Chromium.launch(profile_dir)` starts the browser with a fresh profile and no background traffic; `page()` attaches
to its tab. A `Page` navigates, evaluates JavaScript (results by value), waits for a condition, clicks and takes
full-page PNG screenshots; it records uncaught exceptions and console/log errors in `errors`. Nothing beyond
127.0.0.1 is contacted: the flags turn off component updates, sync, QUIC and background networking.
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--hide-scrollbars",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)


def chromium_binary() -> str | None:
    return shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


class Page:
    """One tab over its DevTools websocket."""

    def __init__(self, ws_url: str) -> None:
        from websockets.sync.client import connect

        self._connection = contextlib.ExitStack()
        self._ws = self._connection.enter_context(connect(ws_url, max_size=None, open_timeout=10))
        self._next_id = 0
        self.errors: list[str] = []
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")

    def send(self, method: str, params: dict[str, Any] | None = None, timeout_s: float = 30.0) -> dict[str, Any]:
        self._next_id += 1
        request_id = self._next_id
        self._ws.send(json.dumps({"id": request_id, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout_s
        while True:
            message = json.loads(self._ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("id") == request_id:
                if "error" in message:
                    raise AssertionError(f"{method} failed: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self._event(message)

    def _event(self, message: dict[str, Any]) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.errors.append(f"exception: {details.get('exception', {}).get('description') or details.get('text')}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.errors.append(
                "console: " + " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
            )
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            self.errors.append(f"log ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}".strip())

    def goto(self, url: str) -> None:
        self.send("Page.navigate", {"url": url})
        self.wait_for(f"location.href === {json.dumps(url)} && document.readyState === 'complete'")

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (promises awaited), as JSON turns it into Python."""
        answer = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in answer:
            details = answer["exceptionDetails"]
            raise AssertionError(f"{expression!r} threw: {details.get('exception', {}).get('description', details)}")
        return answer["result"].get("value")

    def wait_for(self, expression: str, timeout_s: float = 20.0) -> Any:
        """Polls `expression` until it is truthy (one that throws counts as false); returns its value."""
        deadline = time.monotonic() + timeout_s
        value: Any = None
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(expression)
            except AssertionError as err:
                value = err
            if value and not isinstance(value, AssertionError):
                return value
            time.sleep(0.2)
        raise AssertionError(f"still false after {timeout_s} s: {expression} (last: {value!r})")

    def click(self, selector: str) -> None:
        found = self.evaluate(
            f"(() => {{ const n = document.querySelector({json.dumps(selector)}); if (n) n.click(); return !!n; }})()"
        )
        assert found, f"nothing on the page matches {selector}"

    def screenshot(self, path: Path, *, width: int = 1280) -> Path:
        """The whole page as a PNG at `width` CSS pixels."""
        height = int(self.evaluate("document.documentElement.scrollHeight"))
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": max(height, 200), "deviceScaleFactor": 1, "mobile": False},
        )
        data = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        self._connection.close()


class Chromium:
    """The browser process, with a fresh profile in `profile_dir` and its stderr in `profile_dir`/chromium.log."""

    def __init__(self, process: subprocess.Popen[bytes], profile_dir: Path, port: int) -> None:
        self.process, self.profile_dir, self.port = process, profile_dir, port

    @classmethod
    def launch(cls, binary: str, profile_dir: Path, *, timeout_s: float = 30.0) -> Chromium:
        profile_dir.mkdir(parents=True, exist_ok=True)
        log = (profile_dir / "chromium.log").open("wb")
        process = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile_dir / 'profile'}", "--window-size=1280,900", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        port_file = profile_dir / "profile" / "DevToolsActivePort"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"chromium exited {process.returncode}: {cls._tail(profile_dir)}")
            lines = port_file.read_text().splitlines() if port_file.exists() else []
            if lines and lines[0].isdigit():
                return cls(process, profile_dir, int(lines[0]))
            time.sleep(0.1)
        process.kill()
        raise AssertionError(f"chromium did not open its DevTools port in {timeout_s} s: {cls._tail(profile_dir)}")

    @staticmethod
    def _tail(profile_dir: Path) -> str:
        return (profile_dir / "chromium.log").read_text(errors="replace")[-2000:]

    def page(self) -> Page:
        """The first tab (about:blank at launch)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            targets = httpx.get(f"http://127.0.0.1:{self.port}/json/list", timeout=5).json()
            pages = [t for t in targets if t.get("type") == "page" and t.get("webSocketDebuggerUrl")]
            if pages:
                return Page(pages[0]["webSocketDebuggerUrl"])
            time.sleep(0.1)
        raise AssertionError(f"chromium on port {self.port} has no page target")

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
