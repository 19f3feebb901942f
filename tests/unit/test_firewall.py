"""sip.firewall: the BPF program's logic (interpreted) and the real kernel filter on a socket."""

from __future__ import annotations

import socket

import pytest

from sip.firewall import attach_filter, filter_program, run_program, sockets_bound_to


@pytest.mark.parametrize(("cidrs", "source", "kept"), [
    (["127.0.0.2/32", "127.0.0.3/32"], "127.0.0.2", True),
    (["127.0.0.2/32", "127.0.0.3/32"], "127.0.0.3", True),
    (["127.0.0.2/32", "127.0.0.3/32"], "127.0.0.4", False),
    (["127.0.0.2/32"], "127.0.0.3", False),
    ([], "127.0.0.2", False),
    (["127.0.0.0/29"], "127.0.0.7", True),
    (["127.0.0.0/29"], "127.0.0.8", False),
    (["0.0.0.0/0"], "127.9.9.9", True),
    (["10.0.0.0/8", "127.0.0.20/32"], "127.0.0.20", True),
])
def test_program_logic(cidrs, source, kept):
    assert run_program(filter_program(cidrs), source) is kept


def test_many_rules_still_fit():
    cidrs = [f"127.0.{i // 250}.{i % 250}/32" for i in range(900)]
    program = filter_program(cidrs)
    assert run_program(program, "127.0.3.149") and not run_program(program, "127.0.3.251")


def test_too_many_rules_is_a_clear_error():
    with pytest.raises(ValueError, match="too many firewall rules"):
        filter_program([f"127.0.{i // 250}.{i % 250}/32" for i in range(1100)])


def _udp(ip: str, port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((ip, port))
    return sock


def test_kernel_drops_what_the_program_does_not_allow():
    receiver = _udp("127.0.0.10")
    allowed, denied = _udp("127.0.0.2"), _udp("127.0.0.4")
    try:
        attach_filter(receiver, filter_program(["127.0.0.2/32"]))
        denied.sendto(b"from-denied", receiver.getsockname())
        allowed.sendto(b"from-allowed", receiver.getsockname())
        receiver.settimeout(1.0)
        data, source = receiver.recvfrom(100)
        assert (data, source[0]) == (b"from-allowed", "127.0.0.2")
        receiver.settimeout(0.2)
        with pytest.raises(TimeoutError):
            receiver.recvfrom(100)  # the denied datagram never arrived
        # Re-attaching replaces the program: now the other source passes.
        attach_filter(receiver, filter_program(["127.0.0.4/32"]))
        denied.sendto(b"again", receiver.getsockname())
        receiver.settimeout(1.0)
        assert receiver.recvfrom(100)[0] == b"again"
    finally:
        for s in (receiver, allowed, denied):
            s.close()


def test_finds_this_process_sockets_by_address():
    mine = _udp("127.0.0.57")
    try:
        found = sockets_bound_to("127.0.0.57")
        assert [port for _, port in found] == [mine.getsockname()[1]]
        # A filter attached through the dup applies to the original socket.
        dup, _ = found[0]
        attach_filter(dup, filter_program([]))
        dup.close()
        sender = _udp("127.0.0.2")
        sender.sendto(b"x", mine.getsockname())
        mine.settimeout(0.2)
        with pytest.raises(TimeoutError):
            mine.recvfrom(10)
        sender.close()
    finally:
        mine.close()
