"""Audio for one call leg at an end party: send our test tone, listen for the far end's tone,
and read the RTP counters. Runs inside an agent process (imports pjsua2)."""

from __future__ import annotations

import collections
import ctypes

import pjsua2 as pj

from ..tone import ToneTracker


def _audio_format(clock_rate: int) -> pj.MediaFormatAudio:
    fmt = pj.MediaFormatAudio()
    fmt.type = pj.PJMEDIA_TYPE_AUDIO
    fmt.init(pj.PJMEDIA_FORMAT_PCM, clock_rate, 1, 20000, 16)  # mono, 20 ms frames, 16-bit
    return fmt


def vector_bytes(vector: pj.ByteVector) -> bytes:
    """A frame's bytes, read in one copy. bytes(vector) walks SWIG's iterator element by element:
    0.5 ms for a 20 ms frame, the largest cost of a check in an end party (50 frames a second
    per call). A std::vector (libstdc++) starts with its begin and end pointers; the size pjsua2
    reports must match them, or the slow way is taken."""
    size = vector.size()
    address = int(vector.this)
    begin = ctypes.c_void_p.from_address(address).value
    end = ctypes.c_void_p.from_address(address + ctypes.sizeof(ctypes.c_void_p)).value
    if not size or begin is None or end is None or end - begin != size:
        return bytes(vector)
    return ctypes.string_at(begin, size)


class _Listener(pj.AudioMediaPort):
    """Receives the conference bridge's frames. Called on the media clock thread, so it only
    queues bytes; the agent's main thread judges them."""

    def __init__(self) -> None:
        super().__init__()
        self.frames: collections.deque[bytes] = collections.deque(maxlen=500)

    def onFrameReceived(self, frame: pj.MediaFrame) -> None:  # noqa: N802 - pjsua2's name
        # An exception escaping here would keep this port alive past libDestroy (an abort at
        # exit), so nothing may escape. Type 0 frames are the bridge's empty ticks.
        try:
            if frame.type == pj.PJMEDIA_FRAME_TYPE_AUDIO:
                self.frames.append(vector_bytes(frame.buf))
        except Exception:  # noqa: BLE001
            pass


class LegAudio:
    """Our tone out to the call, the call's audio into a tone tracker for the far tone.

    Reused from call to call, never destroyed while the agent runs: pjsua2 removes a destroyed
    port from the conference bridge asynchronously while freeing its memory at once, and the
    bridge's clock thread can still call into it (a SIGSEGV seen under rapid call churn)."""

    def __init__(self, clock_rate: int, tone_hz: float, far_tone_hz: float) -> None:
        self.clock_rate = clock_rate
        self.tone = pj.ToneGenerator()
        self.tone.createToneGenerator(clock_rate, 1)
        desc = pj.ToneDesc()
        desc.freq1, desc.freq2, desc.on_msec, desc.off_msec, desc.volume = int(tone_hz), 0, 10000, 0, 0
        tones = pj.ToneDescVector()
        tones.append(desc)
        self.tone.play(tones, True)  # loop: a continuous tone
        self.listener = _Listener()
        self.listener.createPort(f"listen-{far_tone_hz:.0f}", _audio_format(clock_rate))
        self.tracker = ToneTracker(far_tone_hz)
        self.connected = False

    def reset(self) -> None:
        """Ready for the next call (the ended call's port, and its connections, are gone)."""
        self.listener.frames.clear()
        self.tracker.reset()
        self.connected = False

    def connect(self, call_audio: pj.AudioMedia) -> None:
        self.tone.startTransmit(call_audio)
        call_audio.startTransmit(self.listener)
        self.connected = True

    def judge(self) -> dict:
        """Feed what arrived since the last call into the tracker; report the verdict."""
        while self.listener.frames:
            self.tracker.feed(self.listener.frames.popleft(), self.clock_rate)
        verdict = self.tracker.verdict()
        return {
            "hz": self.tracker.freq_hz,
            "present": verdict.present,
            "level_dbfs": round(verdict.level_dbfs, 1),
            "ratio": round(verdict.tone_ratio, 3),
        }


def stream_figures(call: pj.Call) -> dict | None:
    """RTP counters of the call's audio stream, both directions; None when there is no stream."""
    try:
        info = call.getInfo()
        index = next(
            (m.index for m in info.media if m.type == pj.PJMEDIA_TYPE_AUDIO and m.status == pj.PJSUA_CALL_MEDIA_ACTIVE),
            None,
        )
        if index is None:
            return None
        stat = call.getStreamStat(index).rtcp
        stream = call.getStreamInfo(index)
        audio = call.getAudioMedia(index)
        transport = call.getMedTransportInfo(index)
        # pjsua2 names the levels from the conference port's side: getRxLevel is what the port
        # receives from the bridge (what this leg sends to the far end), getTxLevel what it hands
        # the bridge (what this leg hears). Measured: a party playing its tone to a silent far end
        # reads getRxLevel 37, getTxLevel 0. Both 0..100.
        levels = (audio.getTxLevel(), audio.getRxLevel())
    except pj.Error:
        return None
    return {
        "codec": f"{stream.codecName}/{stream.codecClockRate}",
        "local_rtp": getattr(transport, "localRtpName", ""),
        "remote_rtp": stream.remoteRtpAddress,
        "rx": {
            "pkt": stat.rxStat.pkt, "bytes": stat.rxStat.bytes, "loss": stat.rxStat.loss,
            "jitter_ms": round(stat.rxStat.jitterUsec.mean / 1000, 2),
        },
        "tx": {"pkt": stat.txStat.pkt, "bytes": stat.txStat.bytes, "loss": stat.txStat.loss},
        # 0..100 levels of the conference port: what we hear from the far end / what we send
        "level_rx": levels[0],
        "level_tx": levels[1],
    }
