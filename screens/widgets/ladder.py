"""The call flow ladder as text lines, one per message (pure, so it is tested without a screen).

         Δt   PSTN     GW .2     GW .3    FIREWALL    PBX
     +0.000     |--INVITE>|         |         |         |
     +0.001     |         |--------INVITE 120...------->|
       drop     |         |         |-INVITE-x          |
"""

from __future__ import annotations

from rich.text import Text

from sip.ladder import Column, Rung

COLUMN_WIDTH = 10


def short_column(label: str) -> str:
    """'GW 127.0.0.2' -> 'GW .2', 'FIREWALL' -> 'FW': five columns fit in 35 characters."""
    if label.startswith("GW "):
        return "GW ." + label.rsplit(".", 1)[-1]
    return "FW" if label == "FIREWALL" else label


def header(columns: list[Column], width: int = COLUMN_WIDTH) -> Text:
    return Text("       Δt " + "".join(short_column(c.label).center(width) for c in columns), style="bold",
                no_wrap=True, overflow="crop")


def _center(index: int, width: int) -> int:
    return index * width + width // 2


def rung_line(rung: Rung, columns: list[Column], width: int = COLUMN_WIDTH) -> Text:
    total = len(columns) * width
    cells = [" "] * total
    for i in range(len(columns)):
        cells[_center(i, width)] = "|"
    style = "red" if rung.dropped else ("green" if rung.label[:1] == "2" else "")
    delta = Text(f"{'drop' if rung.dropped else f'+{rung.delta:.3f}':>7} ",
                 style="bold red" if rung.dropped else "grey62", no_wrap=True, overflow="crop")
    if rung.src < 0 or rung.dst < 0:  # a peer outside the lab's columns
        return delta + Text("".join(cells) + f"  {rung.message.src} -> {rung.message.dst} {rung.label}",
                            no_wrap=True, overflow="crop")
    start, end = _center(rung.src, width), _center(rung.dst, width)
    left, right = sorted((start, end))
    for x in range(left + 1, right):
        cells[x] = "-"
    head = "x" if rung.dropped else (">" if end > start else "<")
    cells[end - 1 if end > start else end + 1] = head
    label = rung.label[: max(0, right - left - 3)]
    if label:
        at = left + 1 + (right - left - 1 - len(label)) // 2
        cells[at:at + len(label)] = list(label)
    grid = Text("".join(cells), no_wrap=True, overflow="crop")
    if style:  # colour the arrow only: a style on the whole line's leading spaces shifted it
        grid.stylize(style, left, right + 1)
    return delta + grid


# ---------------------------------------------------------------------------- the widget

from rich.segment import Segment  # noqa: E402
from rich.style import Style  # noqa: E402
from textual.binding import Binding  # noqa: E402
from textual.geometry import Size  # noqa: E402
from textual.message import Message  # noqa: E402
from textual.reactive import reactive  # noqa: E402
from textual.scroll_view import ScrollView  # noqa: E402
from textual.strip import Strip  # noqa: E402

CURSOR = Style(bgcolor="#264f78", bold=True)


class LadderView(ScrollView, can_focus=True):
    """The ladder, virtualised: only the rungs on screen are ever turned into text, so a call
    with 10,000 messages scrolls as fast as one with ten (the Line API)."""

    BINDINGS = [
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("pageup", "move('-page')", "Page up", show=False),
        Binding("pagedown", "move('page')", "Page down", show=False),
        Binding("home", "move('-all')", "First", show=False),
        Binding("end", "move('all')", "Last", show=False),
    ]
    DEFAULT_CSS = "LadderView { height: 1fr; }"
    cursor = reactive(0, always_update=True)

    class Highlighted(Message):
        def __init__(self, rung: Rung) -> None:
            super().__init__()
            self.rung = rung

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.rungs: list[Rung] = []
        self.columns: list[Column] = []
        self.width_per_column = COLUMN_WIDTH
        self._cache: dict[int, list[Segment]] = {}

    def show(self, rungs: list[Rung], columns: list[Column], width: int, *, keep_place: bool = False) -> None:
        """Show these rungs; keep_place (the same call, grown) keeps the cursor and the scroll."""
        self.rungs, self.columns, self.width_per_column = rungs, columns, width
        self._cache.clear()
        self.virtual_size = Size(8 + len(columns) * width, len(rungs))
        if keep_place and rungs:
            self.refresh()
            return
        self.scroll_to(0, 0, animate=False)
        self.cursor = 0
        self.refresh()

    def watch_cursor(self, cursor: int) -> None:
        if not self.rungs:
            return
        self.scroll_to_region_cursor(cursor)
        self.refresh()
        self.post_message(self.Highlighted(self.rungs[cursor]))

    def scroll_to_region_cursor(self, cursor: int) -> None:
        top, height = int(self.scroll_offset.y), max(1, self.scrollable_content_region.height)
        if cursor < top:
            self.scroll_to(y=cursor, animate=False)
        elif cursor >= top + height:
            self.scroll_to(y=cursor - height + 1, animate=False)

    def action_move(self, how: int | str) -> None:
        if not self.rungs:
            return
        page = max(1, self.scrollable_content_region.height - 1)
        steps = {"page": page, "-page": -page, "all": len(self.rungs), "-all": -len(self.rungs)}
        step = steps[how] if isinstance(how, str) else how
        self.cursor = max(0, min(len(self.rungs) - 1, self.cursor + step))

    def _segments(self, index: int) -> list[Segment]:
        if index not in self._cache:
            if len(self._cache) > 2000:  # keep memory flat on huge ladders
                self._cache.clear()
            text = rung_line(self.rungs[index], self.columns, self.width_per_column)
            self._cache[index] = list(text.render(self.app.console))
        return self._cache[index]

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        if index >= len(self.rungs):
            return Strip.blank(width, self.rich_style)
        strip = Strip(self._segments(index)).crop(scroll_x, scroll_x + width)
        strip = strip.extend_cell_length(width, self.rich_style)
        if index == self.cursor:
            strip = strip.apply_style(CURSOR)
        return strip
