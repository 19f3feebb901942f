"""An Input that does not blink in deterministic (snapshot) runs."""

from __future__ import annotations

from textual.widgets import Input


class LabInput(Input):
    def on_mount(self) -> None:
        if getattr(self.app, "deterministic", False):
            self.cursor_blink = False
