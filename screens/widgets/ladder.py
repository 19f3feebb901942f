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
