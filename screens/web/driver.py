"""The console's side of the classroom: Textual's web driver, plus one request of our own.

A classroom console outlives the browser that showed it: after a reload, a closed tab or a
dropped connection, the server attaches the new page to the same console process. The new page
starts blank, and Textual only sends what changed, so the server asks for a redraw (a "redraw"
meta packet): the driver sets the terminal modes again (the new page's terminal has none) and
repaints the whole screen. Everything else is Textual's WebDriver as textual-serve uses it.
"""

from __future__ import annotations

import asyncio

from textual.drivers.web_driver import WebDriver

# What WebDriver.start_application_mode sets up in the browser's terminal: the alternate
# screen, mouse reporting, a hidden cursor, bracketed paste.
TERMINAL_MODES = ("\x1b[?1049h" "\x1b[?1000h\x1b[?1003h\x1b[?1015h\x1b[?1006h" "\x1b[?25l" "\x1b[?2004h")


class ClassroomDriver(WebDriver):
    _loop: asyncio.AbstractEventLoop | None = None

    def start_application_mode(self) -> None:
        self._loop = asyncio.get_running_loop()
        super().start_application_mode()

    def on_meta(self, packet_type: str, payload: dict[str, object]) -> None:
        if packet_type == "redraw" and self._loop is not None:
            # on_meta runs on the input thread; the screen is written from the app's loop only
            self._loop.call_soon_threadsafe(self._redraw)
            return
        super().on_meta(packet_type, payload)

    def _redraw(self) -> None:
        self.write(TERMINAL_MODES)
        self._app.refresh(repaint=True, layout=True)
