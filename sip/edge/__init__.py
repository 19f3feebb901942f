"""The carrier edge: what stands between the System Gateway's address and the pjsua2 B2BUA.

- wire.py    datagrams to SIP messages and back, strictly (what a peer sent, not a capture)
- decide.py  the gateway's decision on a new INVITE (load, authentication, offer, routing)
- proxy.py   the edge itself: answers, forwards and rewrites, datagram by datagram (sans-IO)

All pure; sip/agent/edge.py runs it on a socket inside the gateway agent.
"""
