"""Packet capture figures: what the ring costs in memory, what reading lo costs, what an export
costs, and how many packets a real lab call puts on lo. Needs CAP_NET_RAW (root).

    .venv/bin/python bench/capture.py [--packets 100000] [--block 127.0.201.0/24] [--no-call]

Prints, in one run:
  - ring memory per packet measured with tracemalloc (RTP-sized and SIP-sized packets), against
    the budget's estimate (len + PACKET_OVERHEAD): the overhead constant must not be below it;
  - the capture reading a UDP flood from another process: packets kept, kernel drops, the
    reader's CPU time per packet;
  - select_call + pcap_bytes for one call in a full ring (the console's "p" key);
  - a real inbound call through the lab: packets per second on lo and bytes per packet in the
    ring, hence how long a call the default ring holds.
Figures, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import ipaddress
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sip.capture import PACKET_OVERHEAD, RING_BYTES, LoopbackCapture, PacketRing  # noqa: E402
from sip.pcap import Packet, pcap_bytes, select_call  # noqa: E402

RTP_PACKET = 200  # IPv4 + UDP + RTP header + 160 bytes of PCMU (20 ms)
SIP_PACKET = 1000  # an INVITE with SDP, as the lab's agents send it

SENDER = """
import socket, sys, time
src, dst, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, 0))
payload = b"\\x80" + b"\\x00" * 171
start = time.perf_counter()
for i in range(count):
    s.sendto(payload, (dst, 4000))
print(time.perf_counter() - start)
"""


def ring_memory(count: int, size: int) -> float:
    """Bytes of Python memory per kept packet beyond its data, as the capture builds them."""
    ring = PacketRing(max_bytes=1 << 40)
    buffer = bytearray(65536)
    view = memoryview(buffer)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(count):
        ring.add(Packet(1.7e9 + i * 0.02, bytes(view[:size])))  # what _read_ready does
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return used / count - size


async def flood(block: str, count: int) -> dict:
    net = ipaddress.ip_network(block)
    src, dst = str(net.network_address + 2), str(net.network_address + 3)
    capture = LoopbackCapture([block], ring_bytes=1 << 40)
    capture.start()
    cpu_before = time.process_time()
    sender = await asyncio.create_subprocess_exec(sys.executable, "-c", SENDER, src, dst, str(count),
                                                  stdout=subprocess.PIPE)
    out, _ = await sender.communicate()
    deadline = time.monotonic() + 5
    while len(capture.ring) + capture.stats()["kernel_drops"] < count and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    cpu = time.process_time() - cpu_before
    stats = capture.stats()
    capture.close()
    send_s = float(out)
    return {"sent": count, "rate": count / send_s, "kept": stats["packets"], "drops": stats["kernel_drops"],
            "cpu_us": cpu / max(stats["packets"], 1) * 1e6}


def export_cost(ring_bytes: int, since: float) -> tuple[int, float, int]:
    """A ring full of RTP with one small call's SIP and RTP at its end: time to pick and write
    it, looking from `since` on (the lab passes the call's start; 0 = decode the whole ring)."""
    from tests.unit.test_pcap import b2bua_call, udp, rtp

    call = b2bua_call(t0=1.7e9 + 100.0)
    filler, t, seq = [], 1.7e9, 0
    per_packet = RTP_PACKET + PACKET_OVERHEAD
    while len(filler) * per_packet < ring_bytes:
        filler.append(Packet(t, udp(("127.0.201.30", 5000 + seq % 50), ("127.0.201.31", 6000), rtp(seq % 65536))))
        t, seq = t + 0.001, seq + 1
    packets = sorted(filler + call["sip"] + call["media"], key=lambda p: p.t)
    start = time.perf_counter()
    chosen = select_call(packets, {"a", "b"}, since=since)
    data = pcap_bytes(chosen)
    return len(packets), time.perf_counter() - start, len(data)


async def live_call(block: str) -> dict:
    from sip.lab import Lab
    from store import AddressPlan, Store

    with tempfile.TemporaryDirectory() as folder:
        store = await Store.open(Path(folder) / "lab.db", plan=AddressPlan.in_block(block))
        lab = Lab(store, capture=True)
        await lab.start()
        try:
            placed = await lab.place_inbound("12025550100")
            call = await lab.run_call(placed, hold_s=5.0)
            path = Path(folder) / "call.pcap"
            count = lab.export_pcap(call.ref, path)
            held = call.duration_s or 0.0
            ring = lab.capture.ring
            return {"packets": count, "held_s": held, "pps": count / held if held else 0.0,
                    "ring_bytes_per_packet": ring.bytes / max(len(ring), 1), "file_bytes": path.stat().st_size,
                    "final": call.final_code}
        finally:
            await lab.stop()
            await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--packets", type=int, default=100_000)
    parser.add_argument("--block", default="127.0.201.0/24")
    parser.add_argument("--no-call", action="store_true", help="skip the live lab call")
    args = parser.parse_args()

    for name, size in (("RTP", RTP_PACKET), ("SIP", SIP_PACKET)):
        overhead = ring_memory(args.packets, size)
        print(f"ring: {name} packet of {size} B costs {size + overhead:.0f} B "
              f"(overhead {overhead:.0f} B; the budget counts {PACKET_OVERHEAD} B)")
    print(f"ring budget {RING_BYTES // 2**20} MiB = {RING_BYTES // (RTP_PACKET + PACKET_OVERHEAD):,} RTP packets")

    result = await flood(args.block, args.packets)
    print(f"capture: {result['sent']:,} datagrams sent at {result['rate']:,.0f}/s -> kept {result['kept']:,}, "
          f"kernel drops {result['drops']:,}; reader CPU {result['cpu_us']:.2f} us/packet")

    for since, what in ((1.7e9 + 99.0, "from the call's start"), (0.0, "decoding the whole ring")):
        count, seconds, size = export_cost(RING_BYTES, since)
        print(f"export: one call out of a full ring ({count:,} packets), {what}: {seconds * 1000:.0f} ms, "
              f"pcap {size:,} B")

    if not args.no_call:
        call = await live_call(args.block)
        minutes = RING_BYTES / (call["pps"] * call["ring_bytes_per_packet"]) / 60 if call["pps"] else 0
        print(f"live call: final {call['final']}, {call['packets']} packets over {call['held_s']:.1f} s held "
              f"= {call['pps']:.0f} packets/s, {call['ring_bytes_per_packet']:.0f} B each in the ring, "
              f"pcap {call['file_bytes']:,} B; the default ring holds {minutes:.1f} min of one call")


if __name__ == "__main__":
    asyncio.run(main())
