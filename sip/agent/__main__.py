"""Entry point of an agent process: `python -m sip.agent ROLE CONFIG_JSON`.

The app's supervisor starts it; commands arrive as JSON lines on stdin, events leave as JSON
lines on stdout. The process dies with the app (PR_SET_PDEATHSIG) and when stdin closes.
"""

from __future__ import annotations

import json
import os
import signal
import sys

import pjsua2 as pj

from .runtime import Emitter, Runtime, claim_stdout, die_with_parent


def main(argv: list[str]) -> int:
    role, config = argv[0], json.loads(argv[1])
    die_with_parent()
    events = claim_stdout()
    emit = Emitter(events, role)
    runtime = Runtime(emit, capture=role != "gateway")  # the gateway's edge reports its own wire
    # SIGTERM ends the loop like a quit command, so calls are hung up properly.
    signal.signal(signal.SIGTERM, lambda *_: setattr(runtime, "stopping", True))
    from .gateway import GatewayAgent
    from .parties import PbxAgent, PstnAgent

    agent_class = {"gateway": GatewayAgent, "pstn": PstnAgent, "pbx": PbxAgent}[role]
    try:
        agent = agent_class(runtime, config)
    except (pj.Error, OSError) as error:  # typically: the address is taken (another lab is running)
        reason = error.reason if isinstance(error, pj.Error) else (error.strerror or str(error))
        emit("fatal", message=f"{role} could not start on {config.get('ip')}:{config.get('port')}: {reason}")
        leave(events, 3)
    runtime.start_stdin_reader()
    emit("ready", role=role, config=config)
    runtime.run(agent.handle)
    runtime.shutdown(agent.release_all)
    emit("bye")
    leave(events, 0)
    return 0


def leave(events, code: int) -> None:
    """Exit now: past libDestroy, pjsua2's own destructors at interpreter exit can abort."""
    events.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
