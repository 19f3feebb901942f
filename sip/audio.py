"""Audio both ways when one end of a call is not a lab agent (pure).

The lab's own PSTN and PBX each send a test tone and listen for the other's (sip/tone.py). A
PBX of your own plays what it plays: a greeting, music, a person, an echo. So a call with it is
judged by its RTP, in each direction, from figures the lab's agents already report every half
second (sip/agent/media.py `stream_figures`):

* your PBX -> PSTN: the gateway's leg facing your PBX received packets with audio energy in
  them, and so did the PSTN's leg;
* PSTN -> your PBX: the PSTN sent its tone, and the gateway's leg facing your PBX sent packets
  with audio energy in them (what your PBX does with them, the lab cannot hear).

"Energy" is the conference port's level (0..100, on pjmedia's logarithmic, G.711-like scale:
digital silence reads 0, the lab's test tone 37) at LEVEL_FLOOR or above in at least
MIN_LOUD_REPORTS reports, so one click does not make a call "with audio"; and at least
MIN_PACKETS packets (half a second of 20 ms frames) each way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .wire import MediaFigures

LEVEL_FLOOR = 10
MIN_LOUD_REPORTS = 2
MIN_PACKETS = 25


@dataclass(frozen=True)
class LegEnergy:
    """How often one leg's reports showed audio energy, received (rx) and sent (tx)."""

    reports: int = 0
    loud_rx: int = 0
    loud_tx: int = 0


def observe(energy: LegEnergy | None, figures: MediaFigures) -> LegEnergy:
    """One more media report of a leg."""
    energy = energy or LegEnergy()
    return LegEnergy(energy.reports + 1, energy.loud_rx + (figures.level_rx >= LEVEL_FLOOR),
                     energy.loud_tx + (figures.level_tx >= LEVEL_FLOOR))


@dataclass(frozen=True)
class Direction:
    """One direction of a call's audio, and what the verdict rests on (for the ladder and CLI)."""

    heard: bool
    evidence: str


def _packets(figures: MediaFigures, way: str) -> int:
    return (figures.rx if way == "rx" else figures.tx).pkt


def judge(legs: Mapping[tuple[str, str], MediaFigures], energy: Mapping[tuple[str, str], LegEnergy],
          pstn_ip: str) -> dict[str, Direction]:
    """{'pstn': your PBX -> PSTN, 'pbx': PSTN -> your PBX}, from the legs' latest figures and
    their energy so far, keyed (agent, SIP Call-ID). The gateway's leg facing your PBX is the
    one whose far RTP end is not the PSTN."""
    facing_pbx = [key for key, f in legs.items() if key[0] == "gateway"
                  and f.remote_rtp.rpartition(":")[0] not in ("", pstn_ip)]
    pstn = [key for key in legs if key[0] == "pstn"]
    if not facing_pbx or not pstn:
        missing = "the gateway's leg to your PBX" if not facing_pbx else "the PSTN's leg"
        none = Direction(False, f"no RTP figures yet from {missing}")
        return {"pstn": none, "pbx": none}
    gw, ps = max(facing_pbx, key=lambda k: _packets(legs[k], "rx")), pstn[0]
    gw_energy, ps_energy = energy.get(gw, LegEnergy()), energy.get(ps, LegEnergy())

    def verdict(steps: list[tuple[str, int, int]]) -> Direction:
        # each step: (what, packets, loud reports); loud reports -1 means: not judged by energy
        failing = [what for what, packets, loud in steps
                   if packets < MIN_PACKETS or (loud >= 0 and loud < MIN_LOUD_REPORTS)]
        shown = ", ".join(f"{what} {packets} pkt" + (f" ({loud} loud)" if loud >= 0 else "")
                          for what, packets, loud in steps)
        return Direction(not failing, shown if not failing else f"{shown}: too little from {failing[0]}")

    from_pbx = verdict([("gateway got from your PBX", _packets(legs[gw], "rx"), gw_energy.loud_rx),
                        ("PSTN got", _packets(legs[ps], "rx"), ps_energy.loud_rx)])
    to_pbx = verdict([("PSTN sent", _packets(legs[ps], "tx"), -1),
                      ("gateway sent your PBX", _packets(legs[gw], "tx"), gw_energy.loud_tx)])
    return {"pstn": from_pbx, "pbx": to_pbx}
