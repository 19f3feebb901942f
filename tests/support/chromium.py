"""Headless Chromium driven over the DevTools protocol (a websocket, through aiohttp), for the
browser classroom's test.

The browser is kept on loopback: every host name resolves to nothing but 127.0.0.1, a proxy
that does not exist catches any other request, and the features that phone home on their own
(updates, sync, metrics, safe browsing, ...) are off.

textual-serve paints the console with xterm.js on a canvas, so the DOM holds no text. A script
run before the page's own catches the xterm `Terminal` object when textual.js stores it
(`this.terminal = new Terminal(...)`), and the screen is read from its buffer, row by row:
exactly the characters the page shows.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import aiohttp

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
    # nothing leaves the machine
    "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=127.0.0.1;localhost",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--disable-domain-reliability",
    "--disable-client-side-phishing-detection", "--disable-breakpad", "--no-pings",
    "--metrics-recording-only", "--no-first-run", "--no-default-browser-check",
    "--safebrowsing-disable-auto-update", "--dns-prefetch-disable",
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication,"
    "CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions",
    "--window-size=1400,900",
)

CATCH_TERMINAL = """
(() => {
  window.__terminals = [];
  Object.defineProperty(Object.prototype, "terminal", {
    configurable: true,
    set(value) {
      Object.defineProperty(this, "terminal", {value, writable: true, configurable: true, enumerable: true});
      if (value && value.buffer && value.buffer.active) window.__terminals.push(value);
    },
  });
})();
"""

SCREEN_TEXT = """
(() => {
  const term = window.__terminals[0];
  if (!term) return null;
  const buffer = term.buffer.active, rows = [];
  for (let y = 0; y < term.rows; y++) {
    const line = buffer.getLine(buffer.viewportY + y);
    rows.push(line ? line.translateToString(true) : "");
  }
  return rows.join("\\n");
})()
"""


class Browser:
    def __init__(self, executable: str, profile: Path) -> None:
        self.executable = executable
        self.profile = profile
        self.process: subprocess.Popen | None = None
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self._reader: asyncio.Task | None = None

    async def start(self, timeout: float = 30.0) -> None:
        self.profile.mkdir(parents=True, exist_ok=True)
        (self.profile / "DevToolsActivePort").unlink(missing_ok=True)  # a previous run's port
        # A process group of its own: the test ends Chromium's helpers with it, by its id. Its
        # crash handler leaves the group (setsid); a HOME of its own names it (its --database
        # is under HOME), so a test can tell it from another browser's.
        home = self.profile / "home"
        self.process = subprocess.Popen(
            [self.executable, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            env={**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
                 "XDG_CACHE_HOME": str(home / ".cache")})
        port = await self._devtools_port(timeout)
        self._http = aiohttp.ClientSession()
        async with self._http.get(f"http://127.0.0.1:{port}/json/version") as response:
            url = (await response.json())["webSocketDebuggerUrl"]
        self._ws = await self._http.ws_connect(url, max_msg_size=0)
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _devtools_port(self, timeout: float) -> int:
        marker = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.process.returncode}")
            if marker.exists() and marker.read_text().strip():
                return int(marker.read_text().split()[0])
            await asyncio.sleep(0.05)
        raise TimeoutError("chromium did not open its DevTools port")

    async def _read(self) -> None:
        async for message in self._ws:
            reply = json.loads(message.data)
            future = self._pending.pop(reply.get("id", -1), None)
            if future is not None and not future.done():
                future.set_result(reply)

    async def call(self, method: str, params: dict | None = None, session: str | None = None,
                   timeout: float = 15.0) -> dict:
        ident = next(self._ids)
        message = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        future = asyncio.get_running_loop().create_future()
        self._pending[ident] = future
        await self._ws.send_str(json.dumps(message))
        reply = await asyncio.wait_for(future, timeout)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    async def new_context(self) -> str:
        """A browser context of its own: its own cookies, as another person's browser would have."""
        return (await self.call("Target.createBrowserContext", {"disposeOnDetach": True}))["browserContextId"]

    async def open_tab(self, url: str, context: str | None = None) -> Tab:
        params = {"url": "about:blank", **({"browserContextId": context} if context else {})}
        target = (await self.call("Target.createTarget", params))["targetId"]
        session = (await self.call("Target.attachToTarget", {"targetId": target, "flatten": True}))["sessionId"]
        tab = Tab(self, target, session, context)
        await tab.call("Page.enable")  # without it the script below is not run on navigation
        await tab.call("Page.addScriptToEvaluateOnNewDocument", {"source": CATCH_TERMINAL})
        await tab.call("Page.navigate", {"url": url})
        return tab

    async def close(self) -> None:
        """Close the browser, then end whatever is left of its process group."""
        if self._ws is not None and not self._ws.closed:
            try:
                await self.call("Browser.close", timeout=5)
            except (RuntimeError, TimeoutError, ConnectionError, aiohttp.ClientError):
                pass
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
        if self._http is not None:
            await self._http.close()
        if self.process is not None:
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()


class Tab:
    def __init__(self, browser: Browser, target: str, session: str, context: str | None = None) -> None:
        self.browser, self.target, self.session, self.context = browser, target, session, context

    async def call(self, method: str, params: dict | None = None) -> dict:
        return await self.browser.call(method, params, session=self.session)

    async def evaluate(self, expression: str):
        result = await self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        return result["result"].get("value")

    async def navigate(self, url: str) -> None:
        await self.call("Page.navigate", {"url": url})

    async def reload(self) -> None:
        await self.call("Page.reload", {"ignoreCache": True})

    async def page_text(self) -> str:
        """The page's own text (a form, a message, the trainer's dashboard), not the terminal's."""
        return await self.evaluate("document.body ? document.body.innerText : ''") or ""

    async def wait_for_page(self, predicate, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = await self.page_text()
            if predicate(text):
                return text
            await asyncio.sleep(0.1)
        raise AssertionError(f"the page never showed what was expected; it shows:\n{text}")

    async def screen_text(self) -> str:
        return await self.evaluate(SCREEN_TEXT) or ""

    async def wait_for_text(self, predicate, timeout: float = 30.0) -> str:
        """Poll the screen until predicate(text) holds; the last text is in the error."""
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = await self.screen_text()
            if predicate(text):
                return text
            await asyncio.sleep(0.1)
        raise AssertionError(f"the screen never showed what was expected; it shows:\n{text}")

    async def press(self, key: str) -> None:
        """A key press as a person's: the terminal has focus, keyDown with its text, keyUp."""
        await self.evaluate("window.__terminals[0].focus()")
        code = f"Key{key.upper()}" if key.isalpha() else ""
        down = {"type": "keyDown", "key": key, "code": code, "text": key, "unmodifiedText": key,
                "windowsVirtualKeyCode": ord(key.upper())}
        await self.call("Input.dispatchKeyEvent", down)
        await self.call("Input.dispatchKeyEvent", {"type": "keyUp", "key": key, "code": code,
                                                   "windowsVirtualKeyCode": ord(key.upper())})

    async def close(self) -> None:
        await self.browser.call("Target.closeTarget", {"targetId": self.target})
