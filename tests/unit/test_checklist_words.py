"""The checklist's words for what a call did (sip/checklist.py): under a failing item, each
call says what it lacked for that item."""

from __future__ import annotations

from sip.calls import LabCall
from sip.checklist import evaluate
from tests.support.accounts import default_account


def answered(ref: str, gateway: str, heard: dict[str, bool]) -> LabCall:
    return LabCall(ref, direction="inbound", gateway=gateway, state="ended", final_code=200, answered_at=1.0,
                   ended_at=2.0, started_at=float(len(ref)), heard=heard)


def test_an_answered_call_without_audio_says_which_way_is_missing():
    """Under a red "Audio is present in both directions" each call read "answered", which is
    what passed, not what failed."""
    calls = [answered("c1", "127.0.0.2:5060", {"pbx": False, "pstn": True}),
             answered("c22", "127.0.0.3:5060", {"pbx": True, "pstn": False}),
             answered("c333", "127.0.0.2:5060", {})]
    audio = evaluate(calls, default_account())[3]
    assert audio.status == "fail"
    assert audio.detail == "in 127.0.0.2:5060: no audio either way, in 127.0.0.3:5060: no audio PBX -> PSTN"
    ok = evaluate([answered("c1", "127.0.0.2:5060", {"pbx": True, "pstn": True}),
                   answered("c22", "127.0.0.3:5060", {"pbx": False, "pstn": True})], default_account())[3]
    assert ok.detail == "in 127.0.0.2:5060: ok, in 127.0.0.3:5060: no audio PSTN -> PBX"


def test_a_call_that_was_not_answered_still_says_its_final_code():
    failed = LabCall("c1", direction="inbound", gateway="127.0.0.2:5060", state="failed", final_code=408,
                     final_reason="Request Timeout", started_at=1.0, ended_at=2.0)
    assert evaluate([failed], default_account())[0].detail == "via 127.0.0.2:5060: 408 Request Timeout"
