"""Capture the lab's UDP packets on the loopback interface, as they really cross it.

An AF_PACKET socket on "lo" sees every datagram between lab addresses, including those the
PBX's firewall then drops (its filter sits on the PBX's own sockets, after the packet crossed
lo): a capture shows what was sent, the ladder shows what the firewall did with it.

- Each packet is seen once. The socket is bound to ETH_P_IP, and Linux hands outgoing copies
  only to ETH_P_ALL taps, so a datagram on lo arrives here once (as it is received), not twice
  as with tcpdump's ETH_P_ALL. The kernel filter also refuses PACKET_OUTGOING, in case.
- A classic BPF program (the same building blocks as the PBX firewall, sip/firewall.py) keeps
  only UDP from or to the lab's blocks, so the rest of the machine's loopback traffic never
  reaches Python.
- Timestamps are the kernel's (SO_TIMESTAMPNS), not the time Python got round to reading.
- Packets go into a ring bounded in bytes: a long session keeps its newest calls.

Needs CAP_NET_RAW (root, or `setcap cap_net_raw+ep` on the Python binary); without it,
`LoopbackCapture.start` raises CaptureError saying so. `capture_program` and `PacketRing` are
pure; the rest is I/O.
"""

from __future__ import annotations

import asyncio
import collections
import ipaddress
import socket
import struct
import time
from collections.abc import Iterable

from .firewall import (DROP, IP_SOURCE_OFFSET, JEQ_K, LD_W_ABS, RET_K, SKF_NET_OFF, Instruction, accept_if_inside,
                       attach_filter)
from .pcap import Packet

ETH_P_IP = 0x0800
SOL_PACKET = 263
PACKET_STATISTICS = 6
PACKET_OUTGOING = 4
SO_TIMESTAMPNS = 35  # SCM_TIMESTAMPNS: a struct timespec with each packet
SO_RCVBUFFORCE = 33  # root may exceed net.core.rmem_max
LD_B_ABS = 0x30  # A <- the byte at absolute offset k
SKF_AD_PKTTYPE = -0x1000 + 4  # ancillary load: the packet's type (host, outgoing, ...)
IP_PROTOCOL_OFFSET, IP_DESTINATION_OFFSET = 9, 16  # in the IPv4 header (the source: firewall.py)

# What one kept packet costs beyond its bytes: the Packet tuple, its float, the bytes object's
# header and the deque slot: 129 bytes measured with tracemalloc by bench/capture.py.
PACKET_OVERHEAD = 130
# The ring's budget. A lab call puts about 207 packets a second on lo (two legs, RTP both ways
# in 20 ms frames, RTCP) at about 330 bytes each in the ring: 32 MiB hold 8 minutes of one
# call, or the last few minutes of a workshop's calls (bench/capture.py).
RING_BYTES = 32 * 1024 * 1024
READ_BATCH = 512  # datagrams per wakeup at most: the event loop's other work waits no longer
RECEIVE_BUFFER = 4 * 1024 * 1024  # room for a burst while the event loop is busy


class CaptureError(RuntimeError):
    """Packet capture cannot run here; the message says what is missing."""


def lab_blocks(ips: Iterable[str]) -> list[str]:
    """The /24 blocks holding the lab's addresses (one, normally): what the capture keeps."""
    return sorted({str(ipaddress.ip_network(f"{ip}/24", strict=False)) for ip in ips})


def capture_program(cidrs: Iterable[str]) -> list[Instruction]:
    """A socket filter keeping received IPv4 UDP packets whose source or destination lies in
    one of `cidrs`. Each test is followed by its own return, so jumps stay short (8-bit) however
    many blocks there are."""
    program: list[Instruction] = [
        (LD_W_ABS, 0, 0, SKF_AD_PKTTYPE & 0xFFFF_FFFF),
        (JEQ_K, 0, 1, PACKET_OUTGOING),
        (RET_K, 0, 0, DROP),
        (LD_B_ABS, 0, 0, (SKF_NET_OFF + IP_PROTOCOL_OFFSET) & 0xFFFF_FFFF),
        (JEQ_K, 1, 0, socket.IPPROTO_UDP),
        (RET_K, 0, 0, DROP),
    ]
    cidrs = list(cidrs)
    for offset in (IP_SOURCE_OFFSET, IP_DESTINATION_OFFSET):
        program += accept_if_inside(offset, cidrs)
    program.append((RET_K, 0, 0, DROP))
    return program


class PacketRing:
    """The newest packets within a byte budget (each counted with PACKET_OVERHEAD)."""

    def __init__(self, max_bytes: int = RING_BYTES) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self.evicted = 0
        self.evicted_until = 0.0  # the newest evicted packet's time: before it, packets are gone
        self._packets: collections.deque[Packet] = collections.deque()

    def add(self, packet: Packet) -> None:
        self._packets.append(packet)
        self.bytes += len(packet.data) + PACKET_OVERHEAD
        while self.bytes > self.max_bytes and self._packets:
            old = self._packets.popleft()
            self.bytes -= len(old.data) + PACKET_OVERHEAD
            self.evicted += 1
            self.evicted_until = max(self.evicted_until, old.t)

    def packets(self) -> list[Packet]:
        return list(self._packets)

    def __len__(self) -> int:
        return len(self._packets)


class LoopbackCapture:
    """Capture the lab's UDP on lo into a PacketRing while the event loop runs."""

    def __init__(self, cidrs: Iterable[str], *, ring_bytes: int = RING_BYTES, interface: str = "lo") -> None:
        self.cidrs = list(cidrs)
        self.interface = interface
        self.ring = PacketRing(ring_bytes)
        self.kernel_drops = 0  # packets the socket's receive buffer had no room for
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._buffer = bytearray(65536)
        self._ancillary = socket.CMSG_SPACE(16)

    def start(self) -> None:
        """Open the socket, filter, bind, and read it from the running event loop."""
        sock = open_packet_socket()
        try:
            attach_filter(sock, capture_program(self.cidrs))
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            _enlarge_receive_buffer(sock)
            # Bound last: an unbound protocol-0 socket receives nothing, so no packet gets in
            # before the filter does.
            sock.bind((self.interface, ETH_P_IP))
            sock.setblocking(False)
        except OSError as error:
            sock.close()
            raise CaptureError(f"packet capture on {self.interface} failed: {error}") from error
        self._sock = sock
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(sock.fileno(), self._read_ready)

    def close(self) -> None:
        """Stop capturing; what the ring holds stays readable."""
        if self._sock is None:
            return
        self._read_ready()  # what arrived just before the end (the last BYE's 200)
        self.kernel_drops += self._take_kernel_drops()
        self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
        self._sock = None

    @property
    def running(self) -> bool:
        return self._sock is not None

    def packets(self) -> list[Packet]:
        if self._sock is not None:
            self._read_ready()  # an export right after a call sees its last datagrams
        return self.ring.packets()

    def stats(self) -> dict:
        if self._sock is not None:
            self.kernel_drops += self._take_kernel_drops()
        return {"packets": len(self.ring), "bytes": self.ring.bytes, "evicted": self.ring.evicted,
                "kernel_drops": self.kernel_drops}

    def _read_ready(self) -> None:
        view = memoryview(self._buffer)
        for _ in range(READ_BATCH):
            try:
                size, ancillary, _flags, _address = self._sock.recvmsg_into([self._buffer], self._ancillary)
            except (BlockingIOError, InterruptedError):
                return
            self.ring.add(Packet(_kernel_time(ancillary), bytes(view[:size])))

    def _take_kernel_drops(self) -> int:
        """Drops since the last call (the kernel resets its counters on every read)."""
        raw = self._sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
        _received, dropped = struct.unpack("II", raw)
        return dropped


def open_packet_socket() -> socket.socket:
    """A packet socket, or CaptureError naming what is missing."""
    try:
        return socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, 0)
    except PermissionError as error:
        raise CaptureError(
            "packet capture needs CAP_NET_RAW: run as root, or grant it to Python "
            "(sudo setcap cap_net_raw+ep $(realpath .venv/bin/python))") from error
    except (AttributeError, OSError) as error:  # not Linux, or no AF_PACKET in this kernel
        raise CaptureError(f"packet capture needs Linux AF_PACKET sockets: {error}") from error


def _enlarge_receive_buffer(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER)
    except PermissionError:  # CAP_NET_ADMIN missing: as much as net.core.rmem_max allows
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)


def _kernel_time(ancillary: list[tuple[int, int, bytes]]) -> float:
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            seconds, nanoseconds = struct.unpack_from("qq", data)
            return seconds + nanoseconds / 1e9
    return time.time()
