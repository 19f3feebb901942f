"""The footer, made to fit: the keys in the order they matter, as many as the width holds.

Textual's Footer lays every key out in one row and lets the ones that do not fit run under the
command palette's key (at 80 columns a character of them even showed in the last column). This
one shows the screen's keys first (esc, ? and the screen's own), then the app's, the screens'
keys as one item ("d e n t f c b w screens"), and stops before the first that would not fit:
? is always there, and it lists them all.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey, FooterLabel

PALETTE_ROOM = len(" ^p palette ") + 1  # the palette's key, docked right, and its border


def shown_bindings(footer: Footer) -> list[tuple[Binding, bool, str]]:
    """The screen's active bindings the footer shows, one per action, in their order."""
    seen: set[str] = set()
    shown = []
    for _, binding, enabled, tooltip in footer.screen.active_bindings.values():
        if binding.show and binding.action not in seen:
            seen.add(binding.action)
            shown.append((binding, enabled, tooltip))
    return shown


def item_width(key: str, description: str) -> int:
    """Columns a compact footer item takes: the key, a space, the description, a margin."""
    return len(key) + (1 + len(description) if description else 0) + 1


class LabFooter(Footer):
    DEFAULT_CSS = """
    LabFooter FooterKey.-grouped { margin: 0 1 0 0; }
    LabFooter FooterLabel { margin: 0 1 0 0; }
    """

    def __init__(self) -> None:
        super().__init__(compact=True)
        self._width = 0

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        room = (self.size.width or self.app.size.width) - PALETTE_ROOM
        groups: dict[Binding.Group, list[tuple[Binding, bool, str]]] = {}
        items: list[tuple[Binding.Group | None, tuple[Binding, bool, str]]] = []
        for shown in shown_bindings(self):
            group = shown[0].group
            if group is None:
                items.append((None, shown))
            else:
                if group not in groups:
                    groups[group] = []
                    items.append((group, shown))
                groups[group].append(shown)
        for group, (binding, enabled, tooltip) in items:
            if group is None:
                key = self.app.get_key_display(binding)
                room -= item_width(key, binding.description)
                if room < 0:
                    break
                yield FooterKey(binding.key, key, binding.description, binding.action, disabled=not enabled,
                                tooltip=tooltip).data_bind(compact=Footer.compact)
                continue
            members = groups[group]
            room -= sum(len(self.app.get_key_display(b)) + 1 for b, _, _ in members) + len(group.description) + 1
            if room < 0:
                break
            for member, member_enabled, member_tooltip in members:
                yield FooterKey(member.key, self.app.get_key_display(member), "", member.action,
                                disabled=not member_enabled, tooltip=member_tooltip or member.description,
                                classes="-grouped").data_bind(compact=Footer.compact)
            yield FooterLabel(group.description)
        yield from self._palette_key()

    def _palette_key(self) -> ComposeResult:
        if not (self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE):
            return
        active = self.screen.active_bindings.get(self.app.COMMAND_PALETTE_BINDING)
        if active is not None:
            _, binding, enabled, tooltip = active
            yield FooterKey(binding.key, self.app.get_key_display(binding), binding.description, binding.action,
                            classes="-command-palette", disabled=not enabled,
                            tooltip=binding.tooltip or binding.description)

    def on_resize(self) -> None:
        if self.size.width != self._width:  # what fits depends on the width
            self._width = self.size.width
            self.call_after_refresh(self.recompose)
