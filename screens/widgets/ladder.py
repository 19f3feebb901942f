"""The call flow ladder: one line per message, each party a column, each leg marked.

      Δt leg  PSTN          GW .2     GW .3        FW       PBX
  +0.000 A     |--INVITE 12025550100->|        |         |         |
  +0.001 B1    |                      |-----INVITE 12025550100----->|
  +1.502 B1    |                      |        |-INVITE 12025550100-x

The columns are placed so that every label fits between the two columns it joins (each call's
longest label decides); when even the short labels ("INVITE", "183 SDP") do not fit the width,
the ladder scrolls sideways rather than cut an arrow. The layout is pure (tested without a
screen); the widget below only draws the lines on screen (Textual's Line API), so a call of
10,000 messages costs what a call of ten does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from math import ceil

from rich.segment import Segment
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollBar, ScrollBarRender
from textual.strip import Strip
from textual.widget import Widget

from sip.ladder import Column, Ladder, Rung

GAP_MIN = 4  # between two columns no message joins (the labels decide the others)
GAP_MAX = 30  # sngrep's spacing: wider than that, a ladder is hard to follow
ARROW = 4  # cells an arrow needs besides its label: "|-" + label + "->|" minus a column line
TIME_WIDTH = {"delta": 8, "clock": 12}
TIME_TITLE = {"delta": "Δt", "clock": "clock"}
LEG_STYLES = ("bold cyan", "bold magenta", "bold yellow", "bold blue", "bold green", "bold red")


def short_column(label: str) -> str:
    """'GW 127.0.0.2' -> 'GW .2', 'FIREWALL' -> 'FW', '127.0.0.12:5060' -> '.12': for a narrow ladder."""
    if label.startswith("GW "):
        return "GW ." + label.rsplit(".", 1)[-1]
    if label[:1].isdigit():  # an address outside the lab's plan
        return "." + label.split(":", 1)[0].rsplit(".", 1)[-1]
    return "FW" if label == "FIREWALL" else label


def leg_style(name: str) -> str:
    """A leg's colour: A, B1, B2... each its own (the same in the list, the ladder and the audio)."""
    if name == "A":
        return LEG_STYLES[0]
    number = name[1:]
    return LEG_STYLES[int(number) % len(LEG_STYLES)] if number.isdigit() else "bold"


def clock(at: float) -> str:
    """Wall-clock time of a message, to the millisecond: '11:06:40.123'."""
    whole = int(at)
    return time.strftime("%H:%M:%S", time.localtime(whole)) + f".{int(round((at - whole) * 1000)) % 1000:03d}"


# ---------------------------------------------------------------------------- layout (pure)


@dataclass(frozen=True)
class Layout:
    centers: tuple[int, ...]  # where each column's line is, from the grid's left edge
    width: int  # the grid's width
    short: bool  # made for the short labels (each rung still shows its full one where it fits)


def _place(count: int, needs: dict[tuple[int, int], int], left: int) -> list[int]:
    """Columns as close as the labels allow: each column as far right as any arrow ending on it
    needs from the column it started at (arrows only join a column to one on its right)."""
    centers = [left]
    for k in range(1, count):
        x = centers[k - 1] + GAP_MIN
        for (a, b), need in needs.items():
            if b == k:
                x = max(x, centers[a] + need)
        centers.append(x)
    return centers


def _spread(centers: list[int], slack: int) -> list[int]:
    """Share the room left over between the gaps, none growing past GAP_MAX."""
    gaps = [b - a for a, b in zip(centers, centers[1:])]
    if not gaps or slack <= 0:
        return centers
    each = slack // len(gaps)
    out = [centers[0]]
    for gap in gaps:
        out.append(out[-1] + gap + min(each, max(0, GAP_MAX - gap)))
    return out


def layout(columns: list[Column], spans: dict[tuple[int, int], tuple[int, int]], room: int) -> Layout:
    """Where the columns go for these labels (spans: (left, right) column -> the longest full
    and short label between them) in `room` cells: full labels if they fit, else short ones,
    else short ones wider than the room (the view then scrolls sideways)."""
    heads = [len(short_column(c.label)) for c in columns] or [0]
    left, right = max(2, (heads[0] + 1) // 2), max(2, (heads[-1] + 1) // 2)
    for short in (False, True):
        needs = {span: (sizes[1] if short else sizes[0]) + ARROW for span, sizes in spans.items()}
        centers = _place(len(columns), needs, left)
        width = centers[-1] + right + 1
        if width <= room or short:
            centers = _spread(centers, room - width)
            return Layout(tuple(centers), max(width, centers[-1] + right + 1), short)
    raise AssertionError("unreachable")


def header_cells(columns: list[Column], lay: Layout) -> str:
    """The column names over their lines: the full name where it fits, else the short one."""
    cells = [" "] * lay.width
    end = -1  # the last cell written so far
    for i, (col, x) in enumerate(zip(columns, lay.centers)):
        gap_left = x - lay.centers[i - 1] if i else 2 * x + 2  # the edges: as far as the grid goes
        gap_right = lay.centers[i + 1] - x if i + 1 < len(lay.centers) else 2 * (lay.width - 1 - x) + 2
        room = max(1, min(gap_left, gap_right) - 1)
        tiny = "." + col.label.rsplit(".", 1)[-1] if col.label.startswith("GW ") else short_column(col.label)
        name = next((n for n in (col.label, short_column(col.label), tiny) if len(n) <= room), tiny[:room])
        start = max(end + 1, x - len(name) // 2, 0)
        cells[start:start + len(name)] = list(name)
        end = start + len(name) - 1
    return "".join(cells[:lay.width])


def grid_text(rung: Rung, lay: Layout) -> Text:
    """One rung's arrow between its columns, its label in it: |--INVITE 12025550100->|."""
    cells = [" "] * lay.width
    for x in lay.centers:
        cells[x] = "|"
    if rung.span is None:  # a peer outside the lab's columns: say who, after the grid
        return Text("".join(cells) + f"  {rung.message.src} -> {rung.message.dst} {rung.label}", no_wrap=True,
                    overflow="crop")
    start, end = lay.centers[rung.src], lay.centers[rung.dst]
    left, right = sorted((start, end))
    body = "~" if rung.dtmf else "-"
    for x in range(left + 1, right):
        cells[x] = body
    head = "x" if rung.dropped else (">" if end > start else "<")
    cells[end - 1 if end > start else end + 1] = head
    room = right - left - 3  # a dash each side and the head
    label = rung.label if len(rung.label) <= room else rung.short  # the longest that fits
    if len(label) > room:  # layout() always makes room; a guard, marked rather than cut silently
        label = label[:max(0, room - 1)] + "…" if room > 1 else ""
    if label:
        at = left + 2 + (room - len(label)) // 2
        cells[at:at + len(label)] = list(label)
    grid = Text("".join(cells), no_wrap=True, overflow="crop")
    style = "red" if rung.dropped else "blue" if rung.dtmf else "green" if rung.label[:1] == "2" else ""
    if style:  # colour the arrow only, not the column lines either side
        grid.stylize(style, left + 1, right)
    return grid


# ---------------------------------------------------------------------------- the widget


def _thumb(bar: ScrollBar, virtual: float) -> tuple[int, int]:
    """Where a vertical scrollbar's thumb is drawn, in eighths of a cell: what Textual's
    ScrollBarRender.render_bar computes from the same figures (textual/scrollbar.py)."""
    size, window = bar.size.height, bar.window_size if bar.window_size < virtual else 0
    virtual = ceil(virtual)
    if not (window and size and virtual) or size == virtual:
        return (0, 0)
    thumb = max(1, ceil(window) / (virtual / size))
    position = (size - thumb) * (bar.position / (virtual - ceil(window)))
    start = int(position * len(ScrollBarRender.VERTICAL_BARS))
    return start, start + ceil(thumb * len(ScrollBarRender.VERTICAL_BARS))



class LadderView(ScrollView, can_focus=True):
    """The ladder of one call. The first line names the columns; below, one rung a line. Only the
    lines on screen are drawn, and a call that grows adds its new rungs (`grew`) without
    redrawing the rest. The cursor row is bright only while the ladder has the focus (the keys
    then move it); otherwise it is dimmed, like the call list's."""

    BINDINGS = [
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("pageup", "move('-page')", "Page up", show=False),
        Binding("pagedown", "move('page')", "Page down", show=False),
        Binding("home", "move('-all')", "First", show=False),
        Binding("end", "move('all')", "Last", show=False),
    ]
    COMPONENT_CLASSES = {"ladder-view--header", "ladder-view--cursor"}
    DEFAULT_CSS = """
    LadderView {
        height: 1fr;
        background: $surface;
        & > .ladder-view--header { text-style: bold; background: $panel; }
        & > .ladder-view--cursor {
            background: $block-cursor-blurred-background;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus {
            background-tint: $foreground 5%;
            & > .ladder-view--cursor {
                background: $block-cursor-background;
                text-style: $block-cursor-text-style;
            }
        }
    }
    """
    time_mode: reactive[str] = reactive("delta")

    class Highlighted(Message):
        """The cursor is on another rung (index into ladder.rungs)."""

        def __init__(self, ladder: Ladder, index: int) -> None:
            super().__init__()
            self.ladder, self.index = ladder, index

        @property
        def rung(self) -> Rung:
            return self.ladder.rungs[self.index]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.ladder: Ladder | None = None
        self.cursor = 0
        self._cursor_rung: Rung | None = None
        self._layout: Layout | None = None
        self._layout_key: tuple | None = None
        self._cache: dict[int, list[Segment]] = {}
        self._header: list[Segment] | None = None
        self._drawn = 0  # rungs the view knows of

    # ------------------------------------------------------------------ what is shown

    @property
    def rungs(self) -> list[Rung]:
        return self.ladder.rungs if self.ladder is not None else []

    def show(self, ladder: Ladder | None) -> None:
        """Show a call's ladder, from its first rung; the ladder on show keeps its place and
        draws only what it gained."""
        if ladder is self.ladder:
            self.catch_up()
            return
        self.ladder = ladder
        if ladder is not None:
            ladder.take_changes()  # all of it is drawn now
        self.cursor, self._cursor_rung, self._drawn = 0, None, len(self.rungs)
        self._relayout(force=True)
        self.scroll_to(0, 0, animate=False, immediate=True)
        self._highlight()

    def catch_up(self) -> None:
        """Draw what the ladder gained since the view last looked (Ladder.take_changes)."""
        if self.ladder is not None:
            self._grew(self.ladder.take_changes())

    def _grew(self, first: int | None) -> None:
        ladder = self.ladder
        if ladder is None or first is None:
            return
        count, before = len(ladder.rungs), self._drawn
        self._drawn = count
        if self._cursor_rung is not None and self.cursor >= first:  # rungs came in before it: find it again
            self.cursor = next((i for i in range(self.cursor, min(count, self.cursor + count - before + 1))
                                if ladder.rungs[i] is self._cursor_rung), min(self.cursor, count - 1))
        if not self._relayout():  # the same layout: only what changed is drawn again
            if first < before:
                self._cache = {i: s for i, s in self._cache.items() if i < first}
            self._grow_to(count + 1)
            top, height = int(self.scroll_offset.y), self.scrollable_content_region.height
            if first < top + height:  # a changed rung is on screen: draw from there down
                y = max(1, first - top + 1)
                self.refresh(Region(0, y, self.size.width, max(0, height - y + 1)))
        # The view stays where the trainee put it, as sngrep's does: following the end by scrolling
        # would repaint the whole ladder on every message (about 10 ms here); End shows the newest.
        if self._cursor_rung is None:
            self._highlight()

    def _grow_to(self, lines: int) -> None:
        """A taller ladder. Setting virtual_size lays out the whole screen (about 20 ms here,
        whatever the ladder's length). While no scrollbar appears or goes the view keeps its
        size, so only the scrollbar is told, and it is repainted only if its thumb moved (one
        more line in 10,000 does not move it by a cell's eighth)."""
        size = Size(self.virtual_size.width, lines)
        fits = lines <= self.container_size.height
        if size.height < self.virtual_size.height or self.show_vertical_scrollbar == fits:
            self.virtual_size = size  # a scrollbar appears or goes: a real layout
            return
        self.set_reactive(Widget.virtual_size, size)
        if not self.show_vertical_scrollbar:
            return
        bar = self.vertical_scrollbar
        if _thumb(bar, bar.window_virtual_size) == _thumb(bar, size.height):
            bar.set_reactive(ScrollBar.window_virtual_size, size.height)
        else:
            self._scroll_update(size)  # Textual's own: sizes the scrollbar and repaints it

    def _relayout(self, *, force: bool = False) -> bool:
        """Place the columns again if the room, the labels or the time column changed."""
        ladder = self.ladder
        region = self.scrollable_content_region
        width = region.width or self.size.width or 80
        key = (id(ladder), ladder.version if ladder else 0, width, self.time_mode, self._leg_width())
        if not force and key == self._layout_key:
            return False
        self._layout_key = key
        columns = ladder.columns if ladder else []
        self._layout = layout(columns, ladder.spans if ladder else {}, max(1, width - self._prefix_width()))
        self._cache.clear()
        self._header = None
        self.virtual_size = Size(self._prefix_width() + self._layout.width, len(self.rungs) + 1)
        self.refresh()
        return True

    def _leg_width(self) -> int:
        if self.ladder is None:
            return 3
        return max([3, *(len(name) for name in self.ladder.leg_names().values())])

    def _prefix_width(self) -> int:
        return TIME_WIDTH[self.time_mode] + 1 + self._leg_width() + 1

    def watch_time_mode(self) -> None:
        if self.is_mounted:
            self._relayout(force=True)

    def on_resize(self, event: events.Resize) -> None:
        self._relayout()
        self._scroll_to_cursor()

    def on_focus(self) -> None:
        self.refresh()  # the cursor row brightens

    def on_blur(self) -> None:
        self.refresh()

    # ------------------------------------------------------------------ the cursor

    def _highlight(self) -> None:
        if not self.rungs:
            self._cursor_rung = None
            return
        self.cursor = max(0, min(self.cursor, len(self.rungs) - 1))
        rung = self.rungs[self.cursor]
        if rung is not self._cursor_rung:
            self._cursor_rung = rung
            self.post_message(self.Highlighted(self.ladder, self.cursor))

    def _move_to(self, index: int) -> None:
        if not self.rungs:
            return
        old = self.cursor
        self.cursor = max(0, min(len(self.rungs) - 1, index))
        self._refresh_rung(old)
        self._refresh_rung(self.cursor)
        self._scroll_to_cursor()
        self._highlight()

    def select(self, index: int) -> None:
        """Put the cursor on rung `index` (the first rung of a leg picked in the call list)."""
        self._move_to(index)

    def _refresh_rung(self, index: int) -> None:
        y = index - int(self.scroll_offset.y) + 1
        if 1 <= y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    def _scroll_to_cursor(self) -> None:
        top, height = int(self.scroll_offset.y), max(2, self.scrollable_content_region.height) - 1
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True)

    def action_move(self, how: int | str) -> None:
        if not self.rungs:
            return
        page = max(1, self.scrollable_content_region.height - 2)
        steps = {"page": page, "-page": -page, "all": len(self.rungs), "-all": -len(self.rungs)}
        self._move_to(self.cursor + (steps[how] if isinstance(how, str) else how))

    def on_click(self, event: events.Click) -> None:
        if event.y >= 1:
            self._move_to(int(self.scroll_offset.y) + event.y - 1)

    # ------------------------------------------------------------------ drawing

    def _line(self, index: int) -> list[Segment]:
        if index not in self._cache:
            if len(self._cache) > 2000:  # memory stays flat on a huge ladder
                self._cache.clear()
            ladder, lay = self.ladder, self._layout
            rung = ladder.rungs[index]
            name = ladder.leg_name(rung.leg)
            stamp = clock(rung.at) if self.time_mode == "clock" else f"+{ladder.delta(index):.3f}"
            text = Text(f"{stamp:>{TIME_WIDTH[self.time_mode]}} ", style="grey62", no_wrap=True, overflow="crop")
            text.append(f"{name:<{self._leg_width()}} ", style=leg_style(name))
            text.append_text(grid_text(rung, lay))
            self._cache[index] = list(text.render(self.app.console))
        return self._cache[index]

    def _header_line(self) -> list[Segment]:
        if self._header is None:
            title = TIME_TITLE[self.time_mode]
            columns = self.ladder.columns if self.ladder else []
            text = Text(f"{title:>{TIME_WIDTH[self.time_mode]}} {'leg':<{self._leg_width()}} "
                        + header_cells(columns, self._layout), no_wrap=True, overflow="crop")
            self._header = list(text.render(self.app.console))
        return self._header

    def render_line(self, y: int) -> Strip:
        if self._layout is None:
            self._relayout(force=True)
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        if y == 0:
            strip = Strip(self._header_line()).crop(scroll_x, scroll_x + width)
            return strip.extend_cell_length(width).apply_style(self.get_component_rich_style("ladder-view--header"))
        index = scroll_y + y - 1
        if index >= len(self.rungs):
            return Strip.blank(width, self.rich_style)
        strip = Strip(self._line(index)).crop(scroll_x, scroll_x + width).extend_cell_length(width, self.rich_style)
        if index == self.cursor:
            strip = strip.apply_style(self.get_component_rich_style("ladder-view--cursor"))
        return strip

