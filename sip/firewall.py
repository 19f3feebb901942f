"""The PBX's firewall as a classic BPF socket filter (Linux, no privileges needed).

A firewall drops; it does not answer. pjsua answers "100 Trying" before any Python callback
runs, so the filter must act before a datagram reaches pjsua: a BPF program attached to pjsua's
own UDP sockets with SO_ATTACH_FILTER. The kernel runs it on every datagram and discards those
for which it returns 0. Attaching again replaces the program, so rule edits apply live.

`filter_program` is pure (and `run_program` interprets it, so tests can check the logic
without a socket); `attach_filter` and `sockets_bound_to` are the only pieces that touch the OS.
"""

from __future__ import annotations

import ctypes
import ipaddress
import os
import socket
import struct
from collections.abc import Iterable

# Classic BPF opcodes (linux/filter.h) used by our programs.
LD_W_ABS = 0x20  # A <- 32-bit word at absolute offset k
LD_H_ABS = 0x28  # A <- 16-bit half-word at absolute offset k
TAX = 0x07  # X <- A
TXA = 0x87  # A <- X
AND_K = 0x54  # A <- A & k
JEQ_K = 0x15  # pc += (A == k) ? jt : jf
RET_K = 0x06  # return k (bytes of the datagram to keep; 0 = drop)

SKF_NET_OFF = -0x100000  # "offset from the network (IP) header" base for socket filters
IP_SOURCE_OFFSET = 12  # the source address inside the IPv4 header
UDP_SOURCE_PORT_OFFSET = 0  # a UDP socket's filter sees the datagram from its UDP header on
ACCEPT = 0xFFFF_FFFF
DROP = 0
SO_ATTACH_FILTER = 26
MAX_INSTRUCTIONS = 4096  # BPF_MAXINSNS

Instruction = tuple[int, int, int, int]  # (code, jt, jf, k)


def accept_if_inside(address_offset: int, cidrs: Iterable[str]) -> list[Instruction]:
    """Instructions that load the IPv4 address at address_offset (source or destination) into
    X, then accept the packet if it lies inside any of cidrs; otherwise fall through."""
    program: list[Instruction] = [
        (LD_W_ABS, 0, 0, (SKF_NET_OFF + address_offset) & 0xFFFF_FFFF),
        (TAX, 0, 0, 0),
    ]
    for cidr in cidrs:
        net = ipaddress.IPv4Network(cidr)
        program += [
            (TXA, 0, 0, 0),
            (AND_K, 0, 0, int(net.netmask)),
            (JEQ_K, 0, 1, int(net.network_address)),
            (RET_K, 0, 0, ACCEPT),
        ]
    return program


def filter_program(allowed_cidrs: Iterable[str]) -> list[Instruction]:
    """A program that keeps datagrams whose IPv4 source is inside one of allowed_cidrs and
    drops everything else (default deny).

    Layout: load the source address once into X, then per CIDR four instructions
    (A = X; A &= mask; if A == network: accept), then drop. Short forward jumps only, so the
    8-bit jump offsets never overflow however many rules there are."""
    program = accept_if_inside(IP_SOURCE_OFFSET, allowed_cidrs)
    program.append((RET_K, 0, 0, DROP))
    if len(program) > MAX_INSTRUCTIONS:
        raise ValueError(f"too many firewall rules for one socket filter ({len(program)} instructions)")
    return program


def only_from(ip: str, port: int) -> list[Instruction]:
    """A program that keeps datagrams from exactly ip:port and drops the rest: the gateway's
    pjsua listens behind its edge and must hear nobody else."""
    return [
        (LD_W_ABS, 0, 0, (SKF_NET_OFF + IP_SOURCE_OFFSET) & 0xFFFF_FFFF),
        (JEQ_K, 0, 3, int(ipaddress.IPv4Address(ip))),
        (LD_H_ABS, 0, 0, UDP_SOURCE_PORT_OFFSET),
        (JEQ_K, 0, 1, port),
        (RET_K, 0, 0, ACCEPT),
        (RET_K, 0, 0, DROP),
    ]


def run_program(program: list[Instruction], source_ip: str, source_port: int = 0) -> bool:
    """Interpret a program built here for a datagram from source_ip:source_port: True = kept.
    (Only the instructions this module emits; it exists so tests check the real program.)"""
    a = x = 0
    pc = 0
    while True:
        code, jt, jf, k = program[pc]
        pc += 1
        if code == LD_W_ABS:
            a = int(ipaddress.IPv4Address(source_ip))  # the only word we load: the source address
        elif code == LD_H_ABS:
            a = source_port  # the only half-word we load: the UDP source port
        elif code == TAX:
            x = a
        elif code == TXA:
            a = x
        elif code == AND_K:
            a &= k
        elif code == JEQ_K:
            pc += jt if a == k else jf
        elif code == RET_K:
            return k != 0
        else:
            raise ValueError(f"unexpected opcode {code:#x}")


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_SockFilter))]


def attach_filter(sock: socket.socket, program: list[Instruction]) -> None:
    """Attach (or replace) the socket's filter. The kernel copies the program, so the ctypes
    buffers may be freed when this returns."""
    instructions = (_SockFilter * len(program))(*(_SockFilter(*ins) for ins in program))
    fprog = _SockFprog(len(program), instructions)
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, bytes(memoryview(fprog).cast("B")))


def sockets_bound_to(ip: str) -> list[tuple[socket.socket, int]]:
    """This process's UDP sockets bound to `ip`, as (duplicated socket, local port) pairs.

    Found by scanning /proc/self/fd; each is a dup, so closing it leaves pjsua's socket open,
    while a filter attached through it applies to the shared underlying socket."""
    found: list[tuple[socket.socket, int]] = []
    # Read every link first: the fds we dup below may reuse numbers of fds already listed.
    links: dict[str, int] = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue  # closed meanwhile
        if link.startswith("socket:"):
            links.setdefault(link, int(name))  # one entry per socket, however many fds share it
    for fd in links.values():
        try:
            dup = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue
        try:
            if dup.family == socket.AF_INET and dup.type == socket.SOCK_DGRAM:
                local_ip, local_port = dup.getsockname()
                if local_ip == ip:
                    found.append((dup, local_port))
                    continue
        except OSError:
            pass
        dup.close()
    return found


def _pack_check() -> None:  # the struct layout the kernel expects: u16 code, u8 jt, u8 jf, u32 k
    assert ctypes.sizeof(_SockFilter) == struct.calcsize("HBBI") == 8


_pack_check()
