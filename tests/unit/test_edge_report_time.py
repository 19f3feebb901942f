"""The edge reports each message it sent with a time from before it sent it: the far end, in
another process on the same clock, may answer before the report is written, and the ladder
(ordered by time) then showed the answer above the request."""

from __future__ import annotations

import time

from sip.agent.edge import EdgeThread
from sip.edge.proxy import Send, Wire


class Socket:
    def __init__(self) -> None:
        self.sent_at: list[float] = []

    def sendto(self, data: bytes, to) -> None:
        time.sleep(0.01)  # the far end has all the time it needs to answer
        self.sent_at.append(time.time())


class Edge:
    public = ("127.0.0.2", 5060)


def test_a_message_sent_is_reported_with_a_time_from_before_the_send():
    thread = EdgeThread.__new__(EdgeThread)  # no socket bound, no thread: only its reporting
    thread.edge, thread.sock = Edge(), Socket()
    reported: list[dict] = []
    thread.emit = lambda ev, **fields: reported.append({"ev": ev, "t": time.time(), **fields})  # as the real Emitter
    arrived = time.time()
    invite = "INVITE sip:14155550123@127.0.0.20 SIP/2.0\r\n\r\n"
    thread._carry_out([Send(invite.encode(), ("127.0.0.20", 5060)), Wire("tx", ("127.0.0.20", 5060), invite)], arrived)
    (event,) = reported
    assert event["t"] == arrived <= thread.sock.sent_at[0]
    assert (event["dir"], event["local"], event["remote"]) == ("tx", "127.0.0.2:5060", "127.0.0.20:5060")
