"""Tone detection behind the "audio present in both directions" check (sip/tone.py)."""

from __future__ import annotations

import math
import random
import warnings
from array import array

import pytest

from sip.tone import (
    MIN_BLOCK_SECONDS,
    PBX_TONE_HZ,
    PSTN_TONE_HZ,
    SILENCE_DBFS,
    ToneTracker,
    ToneVerdict,
    detect_tone,
    frame_level_dbfs,
    goertzel_power,
    pcm_from_bytes,
    pcm_to_bytes,
    sine_pcm,
    ulaw_decode,
    ulaw_encode,
)

RATES = (8000, 16000)
TONES = (PSTN_TONE_HZ, PBX_TONE_HZ)
SEEDS = (1, 2, 3, 4, 5)


# --- helpers -----------------------------------------------------------------------------------


def other(freq: float) -> float:
    return PBX_TONE_HZ if freq == PSTN_TONE_HZ else PSTN_TONE_HZ


def block(sample_rate: int, ms: int = 20) -> int:
    return sample_rate * ms // 1000


def amp_for_dbfs(dbfs: float) -> float:
    """sine_pcm amplitude whose RMS reads `dbfs` (full-scale sine = -3.01 dBFS)."""
    return 10 ** (dbfs / 20) * math.sqrt(2) * 32768 / 32767


def tone(freq: float, sample_rate: int, n: int, dbfs: float = -9.0, phase: float = 0.0) -> array:
    return pcm_from_bytes(sine_pcm(freq, sample_rate, n, amp_for_dbfs(dbfs), phase))


def noise(rng: random.Random, n: int, dbfs: float) -> array:
    sigma = 10 ** (dbfs / 20) * 32768
    return array("h", (max(-32768, min(32767, round(rng.gauss(0.0, sigma)))) for _ in range(n)))


def mix(*parts: array) -> array:
    return array("h", (max(-32768, min(32767, sum(values))) for values in zip(*parts)))


def through_ulaw(pcm: bytes) -> bytes:
    return ulaw_decode(ulaw_encode(pcm))


# --- pure tones --------------------------------------------------------------------------------


@pytest.mark.parametrize("sample_rate", RATES)
@pytest.mark.parametrize("freq", TONES)
@pytest.mark.parametrize("dbfs", [-3.5, -9.0, -20.0, -30.0, -40.0])
@pytest.mark.parametrize("phase", [0.0, 1.3, 4.0])
def test_pure_tone_is_present_at_every_level_down_to_minus_40(sample_rate, freq, dbfs, phase):
    verdict = detect_tone(tone(freq, sample_rate, block(sample_rate), dbfs, phase), sample_rate, freq)
    assert verdict.present
    assert verdict.level_dbfs == pytest.approx(dbfs, abs=0.2)
    assert verdict.tone_ratio > 0.99
    assert verdict.frames == 1


@pytest.mark.parametrize("sample_rate", RATES)
@pytest.mark.parametrize("ms", [10, 20, 30, 40])
def test_tone_is_found_whatever_the_block_length(sample_rate, ms):
    verdict = detect_tone(tone(PSTN_TONE_HZ, sample_rate, block(sample_rate, ms)), sample_rate, PSTN_TONE_HZ)
    assert verdict.present and verdict.tone_ratio > 0.99


@pytest.mark.parametrize("sample_rate", RATES)
@pytest.mark.parametrize("dbfs", [-46.0, -50.0, -60.0])
def test_tone_below_the_level_floor_is_absent_though_pure(sample_rate, dbfs):
    samples = tone(PSTN_TONE_HZ, sample_rate, block(sample_rate), dbfs)
    verdict = detect_tone(samples, sample_rate, PSTN_TONE_HZ)
    assert not verdict.present
    assert verdict.tone_ratio > 0.9  # it is the level, not purity, that rules it out


def test_level_floor_is_configurable():
    samples = tone(PSTN_TONE_HZ, 8000, 160, -50.0)
    assert detect_tone(samples, 8000, PSTN_TONE_HZ, min_level_dbfs=-55.0).present
    assert not detect_tone(samples, 8000, PSTN_TONE_HZ).present


# --- goertzel_power and frame_level_dbfs -------------------------------------------------------


@pytest.mark.parametrize("sample_rate", RATES)
@pytest.mark.parametrize("freq", TONES)
def test_goertzel_power_of_a_full_scale_sine_is_one_half(sample_rate, freq):
    samples = pcm_from_bytes(sine_pcm(freq, sample_rate, block(sample_rate), amplitude=1.0))
    assert goertzel_power(samples, sample_rate, freq) == pytest.approx(0.5, rel=0.01)


@pytest.mark.parametrize("dbfs", [-6.0, -20.0, -40.0])
def test_goertzel_power_gives_the_component_level_in_dbfs(dbfs):
    samples = tone(PBX_TONE_HZ, 8000, 160, dbfs)
    assert 10 * math.log10(goertzel_power(samples, 8000, PBX_TONE_HZ)) == pytest.approx(dbfs, abs=0.1)


def test_goertzel_power_scales_with_amplitude_squared():
    loud = goertzel_power(pcm_from_bytes(sine_pcm(1004, 8000, 160, 0.8)), 8000, 1004)
    quiet = goertzel_power(pcm_from_bytes(sine_pcm(1004, 8000, 160, 0.2)), 8000, 1004)
    assert loud / quiet == pytest.approx(16.0, rel=0.01)


@pytest.mark.parametrize("sample_rate", RATES)
def test_goertzel_power_rejects_the_other_tone(sample_rate):
    samples = pcm_from_bytes(sine_pcm(PBX_TONE_HZ, sample_rate, block(sample_rate), amplitude=1.0))
    assert goertzel_power(samples, sample_rate, PSTN_TONE_HZ) < 0.5 * 1e-3  # > 30 dB down


def test_goertzel_power_of_nothing_is_zero():
    assert goertzel_power([], 8000, 1004) == 0.0
    assert goertzel_power(b"", 8000, 1004) == 0.0
    assert goertzel_power([0] * 160, 8000, 1004) == 0.0


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        ([], SILENCE_DBFS),
        ([0] * 160, SILENCE_DBFS),
        ([32767, -32768] * 80, 0.0),  # full-scale square
        ([16384, -16384] * 80, -6.02),
        ([1, -1] * 80, -90.31),  # one LSB
    ],
)
def test_frame_level_dbfs(samples, expected):
    assert frame_level_dbfs(samples) == pytest.approx(expected, abs=0.01)


@pytest.mark.parametrize("sample_rate", RATES)
def test_full_scale_sine_reads_minus_3_dbfs(sample_rate):
    level = frame_level_dbfs(sine_pcm(1004, sample_rate, 1000, amplitude=1.0))
    assert level == pytest.approx(-3.01, abs=0.02)


def test_level_is_never_below_the_floor():
    assert frame_level_dbfs([1] + [0] * 10**6) >= SILENCE_DBFS


# --- noise and silence -------------------------------------------------------------------------


@pytest.mark.parametrize("sample_rate", RATES)
@pytest.mark.parametrize("snr_db", [30, 20, 10, 6])
@pytest.mark.parametrize("seed", SEEDS)
def test_tone_in_moderate_noise_is_present(sample_rate, snr_db, seed):
    rng = random.Random(seed)
    n = block(sample_rate)
    wanted = tone(PSTN_TONE_HZ, sample_rate, n, -12.0, rng.uniform(0, 6.28))
    samples = mix(wanted, noise(rng, n, -12.0 - snr_db))
    verdict = detect_tone(samples, sample_rate, PSTN_TONE_HZ)
    assert verdict.present
    assert verdict.tone_ratio > 0.7


@pytest.mark.parametrize("sample_rate", RATES)
@pytest.mark.parametrize("snr_db", [-6, -10, -20])
@pytest.mark.parametrize("seed", SEEDS)
def test_tone_buried_in_noise_is_absent(sample_rate, snr_db, seed):
    # The check asks for clean audio, not a tone that merely survives in noise.
    rng = random.Random(seed)
    n = block(sample_rate)
    wanted = tone(PSTN_TONE_HZ, sample_rate, n, -20.0, rng.uniform(0, 6.28))
    samples = mix(wanted, noise(rng, n, -20.0 - snr_db))
    assert not detect_tone(samples, sample_rate, PSTN_TONE_HZ).present


@pytest.mark.parametrize("sample_rate", RATES)
@pytest.mark.parametrize("n", [0, 10, 160, 320, 1000])
def test_digital_silence_is_absent(sample_rate, n):
    judged = n >= sample_rate * MIN_BLOCK_SECONDS
    expected = ToneVerdict(present=False, level_dbfs=SILENCE_DBFS, tone_ratio=0.0, frames=1 if judged else 0)
    assert detect_tone([0] * n, sample_rate, PSTN_TONE_HZ) == expected


@pytest.mark.parametrize("seed", SEEDS)
def test_one_lsb_hiss_is_absent(seed):
    rng = random.Random(seed)
    samples = [rng.choice((-1, 0, 1)) for _ in range(160)]
    verdict = detect_tone(samples, 8000, PSTN_TONE_HZ)
    assert not verdict.present
    assert verdict.level_dbfs < -85


@pytest.mark.parametrize("sample_rate", RATES)
@pytest.mark.parametrize("freq", TONES)
@pytest.mark.parametrize("dbfs", [-6.0, -20.0, -40.0])
@pytest.mark.parametrize("seed", SEEDS)
def test_white_noise_alone_is_absent(sample_rate, freq, dbfs, seed):
    verdict = detect_tone(noise(random.Random(seed), block(sample_rate), dbfs), sample_rate, freq)
    assert not verdict.present
    assert verdict.tone_ratio < 0.25


def test_white_noise_never_fools_it_over_many_blocks():
    rng = random.Random(42)
    ratios = [detect_tone(noise(rng, 160, -10.0), 8000, PSTN_TONE_HZ).tone_ratio for _ in range(500)]
    assert max(ratios) < 0.25  # default threshold is 0.5; noise averages 2/N = 0.0125


# --- the other tone, echo, both tones ----------------------------------------------------------


@pytest.mark.parametrize("sample_rate", RATES)
@pytest.mark.parametrize("listen_for", TONES)
@pytest.mark.parametrize("dbfs", [-3.5, -20.0])
@pytest.mark.parametrize("phase", [0.0, 2.0])
def test_the_other_frequency_is_absent(sample_rate, listen_for, dbfs, phase):
    samples = tone(other(listen_for), sample_rate, block(sample_rate), dbfs, phase)
    verdict = detect_tone(samples, sample_rate, listen_for)
    assert not verdict.present
    assert verdict.tone_ratio < 0.01


@pytest.mark.parametrize("sample_rate", RATES)
@pytest.mark.parametrize("listen_for", TONES)
@pytest.mark.parametrize("echo_db", [-30.0, -20.0, -10.0])
@pytest.mark.parametrize("phase", [0.0, 1.0, 2.5])
def test_far_tone_with_own_echo_is_present(sample_rate, listen_for, echo_db, phase):
    n = block(sample_rate)
    echo = tone(other(listen_for), sample_rate, n, -9.0 + echo_db, phase)
    samples = mix(tone(listen_for, sample_rate, n, -9.0), echo)
    verdict = detect_tone(samples, sample_rate, listen_for)
    assert verdict.present
    assert verdict.tone_ratio > 1 / (1 + 10 ** (echo_db / 10)) - 0.02


@pytest.mark.parametrize("sample_rate", RATES)
@pytest.mark.parametrize("listen_for", TONES)
@pytest.mark.parametrize("own_dbfs", [-9.0, -39.0])
def test_own_echo_alone_is_absent(sample_rate, listen_for, own_dbfs):
    # -39 dBFS is our -9 dBFS tone leaking back 30 dB down: loud enough to pass the level floor.
    echo = tone(other(listen_for), sample_rate, block(sample_rate), own_dbfs)
    verdict = detect_tone(echo, sample_rate, listen_for)
    assert verdict.level_dbfs > -45.0
    assert not verdict.present


@pytest.mark.parametrize("sample_rate", RATES)
@pytest.mark.parametrize("listen_for", TONES)
@pytest.mark.parametrize("phase", [0.0, 0.7, 1.9, 3.3])
def test_both_tones_equal_sit_on_the_default_threshold(sample_rate, listen_for, phase):
    # Half the power is ours, half theirs: by design this is the ratio boundary, so a caller
    # that wants to tolerate full-level echo lowers min_ratio, one that wants it flagged raises it.
    n = block(sample_rate)
    own = tone(other(listen_for), sample_rate, n, -12.0, phase)
    samples = mix(tone(listen_for, sample_rate, n, -12.0), own)
    assert detect_tone(samples, sample_rate, listen_for).tone_ratio == pytest.approx(0.5, abs=0.03)
    assert detect_tone(samples, sample_rate, listen_for, min_ratio=0.4).present
    assert not detect_tone(samples, sample_rate, listen_for, min_ratio=0.6).present


# --- awkward input -----------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 10, 39, 79])
def test_blocks_shorter_than_10_ms_are_never_present(n):
    verdict = detect_tone(tone(PSTN_TONE_HZ, 8000, n, -9.0, phase=1.0), 8000, PSTN_TONE_HZ)
    assert not verdict.present
    assert verdict.frames == 0
    assert verdict.level_dbfs > -20.0  # still measured, just not judged


@pytest.mark.parametrize("seed", range(20))
def test_ten_samples_of_noise_are_absent(seed):
    # Ten samples of noise can put 90% of their power in a 800 Hz wide bin; the length guard stops that.
    assert not detect_tone(noise(random.Random(seed), 10, -10.0), 8000, PSTN_TONE_HZ).present


@pytest.mark.parametrize("sample_rate", RATES)
def test_exactly_the_minimum_block_is_judged(sample_rate):
    n = round(sample_rate * MIN_BLOCK_SECONDS)
    assert detect_tone(tone(PBX_TONE_HZ, sample_rate, n), sample_rate, PBX_TONE_HZ).present
    assert not detect_tone(tone(PBX_TONE_HZ, sample_rate, n - 1), sample_rate, PBX_TONE_HZ).present


@pytest.mark.parametrize("empty", [[], b"", bytearray(), array("h")])
def test_empty_input(empty):
    assert detect_tone(empty, 8000, PSTN_TONE_HZ) == ToneVerdict(False, SILENCE_DBFS, 0.0, 0)
    assert frame_level_dbfs(empty) == SILENCE_DBFS


def test_detect_tone_treats_bytes_as_pcm_not_as_small_integers():
    pcm = sine_pcm(PSTN_TONE_HZ, 8000, 160)
    assert detect_tone(pcm, 8000, PSTN_TONE_HZ) == detect_tone(pcm_from_bytes(pcm), 8000, PSTN_TONE_HZ)
    assert detect_tone(memoryview(pcm), 8000, PSTN_TONE_HZ).present


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", []),
        (b"\x01", []),
        (b"\x01\x00", [1]),
        (b"\x01\x00\x7f", [1]),
        (b"\xff\xff\x00\x80\xff\x7f", [-1, -32768, 32767]),
        (b"\xff\xff\x00\x80\xff\x7f\x12", [-1, -32768, 32767]),
    ],
)
def test_pcm_from_bytes_is_little_endian_and_drops_an_odd_byte(raw, expected):
    samples = pcm_from_bytes(raw)
    assert samples.typecode == "h"
    assert list(samples) == expected


def test_pcm_bytes_round_trip():
    samples = array("h", [0, 1, -1, 32767, -32768, 1234])
    assert pcm_from_bytes(pcm_to_bytes(samples)) == samples
    assert pcm_to_bytes([1, -1]) == b"\x01\x00\xff\xff"


@pytest.mark.parametrize("sample_rate", RATES)
def test_odd_byte_count_still_detects(sample_rate):
    pcm = sine_pcm(PSTN_TONE_HZ, sample_rate, block(sample_rate)) + b"\x55"
    assert len(pcm) % 2 == 1
    verdict = detect_tone(pcm, sample_rate, PSTN_TONE_HZ)
    assert verdict.present and verdict.tone_ratio > 0.99


@pytest.mark.parametrize("sample_rate", RATES)
@pytest.mark.parametrize("amplitude", [1.0, 1.2, 1.5, 2.0, 4.0])
def test_clipped_tone_is_still_present(sample_rate, amplitude):
    pcm = sine_pcm(PSTN_TONE_HZ, sample_rate, block(sample_rate), amplitude)
    samples = pcm_from_bytes(pcm)
    if amplitude > 1.0:
        assert max(samples) == 32767  # really saturated
    verdict = detect_tone(samples, sample_rate, PSTN_TONE_HZ)
    assert verdict.present
    assert verdict.tone_ratio > 0.8  # a hard-clipped sine still keeps ~8/pi^2 of its power at the fundamental
    assert not detect_tone(samples, sample_rate, PBX_TONE_HZ).present


@pytest.mark.parametrize(
    ("freq", "sample_rate"),
    [(0.0, 8000), (-5.0, 8000), (4000.0, 8000), (5000.0, 8000), (1004.0, 0)],
)
def test_impossible_frequencies_are_rejected(freq, sample_rate):
    with pytest.raises(ValueError):
        detect_tone([0] * 160, sample_rate, freq)
    with pytest.raises(ValueError):
        goertzel_power([0] * 160, sample_rate, freq)


# --- sine_pcm ----------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 160, 321])
def test_sine_pcm_length(n):
    assert len(sine_pcm(1004, 8000, n)) == 2 * n


def test_sine_pcm_amplitude_and_phase():
    assert max(pcm_from_bytes(sine_pcm(1000, 8000, 8, amplitude=1.0))) == 32767
    assert pcm_from_bytes(sine_pcm(1000, 8000, 1, amplitude=0.5, phase=math.pi / 2))[0] == round(0.5 * 32767)
    assert pcm_from_bytes(sine_pcm(1000, 8000, 1))[0] == 0


# --- G.711 mu-law ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sample", "code"),
    # -1 -> 0x7E (not 0x7F): the reference truncates to 14 bits first, as pjmedia does
    [(0, 0xFF), (-1, 0x7E), (32767, 0x80), (-32768, 0x00), (32124, 0x80), (-32124, 0x00), (100, 0xF2)],
)
def test_ulaw_encode_known_codes(sample, code):
    assert ulaw_encode(pcm_to_bytes([sample])) == bytes([code])


@pytest.mark.parametrize(
    ("code", "sample"), [(0xFF, 0), (0x7F, 0), (0x80, 32124), (0x00, -32124), (0xF2, 104), (0x7E, -8)]
)
def test_ulaw_decode_known_codes(code, sample):
    assert list(pcm_from_bytes(ulaw_decode(bytes([code])))) == [sample]


def test_ulaw_decode_then_encode_is_identity_except_negative_zero():
    codes = bytes(range(256))
    back = ulaw_encode(ulaw_decode(codes))
    assert [c for c, b in zip(codes, back) if c != b] == [0x7F]  # -0 re-encodes as +0


def test_ulaw_round_trip_error_stays_within_the_step_size():
    samples = array("h", range(-32768, 32768))
    decoded = pcm_from_bytes(through_ulaw(pcm_to_bytes(samples)))
    for x, y in zip(samples, decoded):
        # half a step is ~|x|/32; the 14-bit truncation adds a few LSB; above 32124 it clips
        limit = abs(x) / 16 + 7 if abs(x) <= 32124 else 644
        assert abs(x - y) <= limit


def test_ulaw_matches_the_reference_implementation_bit_for_bit():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")  # gone in Python 3.13; only an oracle here
    pcm = pcm_to_bytes(array("h", range(-32768, 32768)))
    assert ulaw_encode(pcm) == audioop.lin2ulaw(pcm, 2)
    assert ulaw_decode(bytes(range(256))) == audioop.ulaw2lin(bytes(range(256)), 2)


@pytest.mark.parametrize("sample_rate", RATES)
@pytest.mark.parametrize("freq", TONES)
@pytest.mark.parametrize("dbfs", [-9.0, -20.0, -30.0, -40.0])
def test_tone_through_ulaw_is_present_and_still_discriminated(sample_rate, freq, dbfs):
    pcm = through_ulaw(sine_pcm(freq, sample_rate, block(sample_rate), amp_for_dbfs(dbfs)))
    verdict = detect_tone(pcm, sample_rate, freq)
    assert verdict.present
    assert verdict.tone_ratio > 0.98
    assert detect_tone(pcm, sample_rate, other(freq)).tone_ratio < 0.01


def test_echo_through_ulaw_is_still_rejected():
    # Our -9 dBFS tone coming back 30 dB down through G.711 must not read as the far tone.
    pcm = through_ulaw(sine_pcm(PBX_TONE_HZ, 8000, 160, amp_for_dbfs(-39.0)))
    assert not detect_tone(pcm, 8000, PSTN_TONE_HZ).present


# --- ToneTracker -------------------------------------------------------------------------------


def frames_of(freq: float, sample_rate: int, count: int, ms: int = 20, dbfs: float = -9.0) -> list[bytes]:
    """`count` consecutive frames of one continuous tone (phase carried across frames)."""
    n = block(sample_rate, ms)
    whole = sine_pcm(freq, sample_rate, n * count, amp_for_dbfs(dbfs))
    return [whole[i * 2 * n : (i + 1) * 2 * n] for i in range(count)]


def silence(sample_rate: int, ms: int = 20) -> bytes:
    return bytes(2 * block(sample_rate, ms))


def test_tracker_starts_absent():
    assert ToneTracker(PSTN_TONE_HZ).verdict() == ToneVerdict(False, SILENCE_DBFS, 0.0, 0)


@pytest.mark.parametrize("sample_rate", RATES)
def test_tracker_turns_present_after_on_blocks(sample_rate):
    tracker = ToneTracker(PSTN_TONE_HZ, window=10, on_blocks=6, off_blocks=4)
    frames = frames_of(PSTN_TONE_HZ, sample_rate, 6)
    for frame in frames[:5]:
        tracker.feed(frame, sample_rate)
        assert not tracker.verdict().present
    tracker.feed(frames[5], sample_rate)
    verdict = tracker.verdict()
    assert verdict.present and verdict.frames == 6 and verdict.tone_ratio > 0.99


@pytest.mark.parametrize("sample_rate", RATES)
@pytest.mark.parametrize("drop_at", [0, 3, 9])
def test_tracker_rides_through_a_dropped_frame(sample_rate, drop_at):
    tracker = ToneTracker(PSTN_TONE_HZ)
    for frame in frames_of(PSTN_TONE_HZ, sample_rate, 10):
        tracker.feed(frame, sample_rate)
    assert tracker.verdict().present
    for i, frame in enumerate(frames_of(PSTN_TONE_HZ, sample_rate, 10)):
        tracker.feed(silence(sample_rate) if i == drop_at else frame, sample_rate)  # a lost packet
        assert tracker.verdict().present
    assert tracker.blocks_present == 9


def test_tracker_hysteresis_holds_either_state_at_half_loss():
    # Alternating tone/silence is 5 of 10 blocks present: between off_blocks (4) and on_blocks (6),
    # so whichever state the tracker was in, it stays there.
    tone_frames = frames_of(PSTN_TONE_HZ, 8000, 40)

    was_present = ToneTracker(PSTN_TONE_HZ)
    for frame in tone_frames[:10]:
        was_present.feed(frame, 8000)
    was_absent = ToneTracker(PSTN_TONE_HZ)
    for tracker in (was_present, was_absent):
        for i, frame in enumerate(tone_frames[10:]):
            tracker.feed(frame if i % 2 else silence(8000), 8000)
            if i >= 10:
                assert tracker.blocks_present == 5
    assert was_present.verdict().present
    assert not was_absent.verdict().present


@pytest.mark.parametrize("sample_rate", RATES)
@pytest.mark.parametrize("after", ["silence", "noise", "other tone"])
def test_tracker_goes_absent_after_the_tone_stops(sample_rate, after):
    tracker = ToneTracker(PSTN_TONE_HZ, window=10, on_blocks=6, off_blocks=4)
    for frame in frames_of(PSTN_TONE_HZ, sample_rate, 15):
        tracker.feed(frame, sample_rate)
    assert tracker.verdict().present
    rng = random.Random(7)
    n = block(sample_rate)
    tail = {
        "silence": lambda: silence(sample_rate),
        "noise": lambda: pcm_to_bytes(noise(rng, n, -20.0)),
        "other tone": lambda: sine_pcm(PBX_TONE_HZ, sample_rate, n),
    }[after]
    # It takes window - off_blocks + 1 = 7 bad blocks (140 ms) for the count to fall below 4.
    for k in range(1, 8):
        tracker.feed(tail(), sample_rate)
        assert tracker.verdict().present == (k < 7)
    for _ in range(10):
        tracker.feed(tail(), sample_rate)
    verdict = tracker.verdict()
    assert not verdict.present and verdict.frames == 10 and verdict.tone_ratio < 0.25


@pytest.mark.parametrize("sample_rate", RATES)
@pytest.mark.parametrize("chunk_bytes", [20, 161, 320, 333, 640, 1001])
def test_tracker_recuts_frames_of_any_size(sample_rate, chunk_bytes):
    # Includes 10-sample frames and odd byte counts that split samples across feeds.
    stream = sine_pcm(PSTN_TONE_HZ, sample_rate, block(sample_rate) * 12)
    tracker = ToneTracker(PSTN_TONE_HZ)
    for start in range(0, len(stream), chunk_bytes):
        tracker.feed(stream[start : start + chunk_bytes], sample_rate)
    verdict = tracker.verdict()
    assert verdict.present and verdict.frames == 10 and verdict.tone_ratio > 0.99


def test_tracker_does_not_judge_before_a_whole_block():
    tracker = ToneTracker(PSTN_TONE_HZ)
    tracker.feed(sine_pcm(PSTN_TONE_HZ, 8000, 159), 8000)
    assert tracker.verdict().frames == 0
    tracker.feed(b"\x00\x00", 8000)
    assert tracker.verdict().frames == 1


def test_tracker_discards_a_partial_block_when_the_rate_changes():
    tracker = ToneTracker(PSTN_TONE_HZ)
    tracker.feed(sine_pcm(PSTN_TONE_HZ, 8000, 100), 8000)
    tracker.feed(sine_pcm(PSTN_TONE_HZ, 16000, 319), 16000)
    assert tracker.verdict().frames == 0  # 100 + 319 samples would have made a bogus block
    tracker.feed(sine_pcm(PSTN_TONE_HZ, 16000, 1), 16000)
    assert tracker.verdict().frames == 1


@pytest.mark.parametrize("listen_for", TONES)
def test_tracker_never_hears_the_wrong_tone_or_noise(listen_for):
    tracker = ToneTracker(listen_for)
    rng = random.Random(11)
    for i in range(30):
        if i % 3 == 0:
            frame = pcm_to_bytes(noise(rng, 160, -15.0))
        else:
            frame = sine_pcm(other(listen_for), 8000, 160, amplitude=0.9, phase=i)
        tracker.feed(frame, 8000)
        assert not tracker.verdict().present


def test_tracker_end_to_end_through_ulaw_with_echo():
    # The PBX side listening for 1004 Hz: far tone via mu-law plus its own 1400 Hz 30 dB down.
    tracker = ToneTracker(PSTN_TONE_HZ)
    far = frames_of(PSTN_TONE_HZ, 8000, 12)
    echo = frames_of(PBX_TONE_HZ, 8000, 12, dbfs=-39.0)
    for f, e in zip(far, echo):
        tracker.feed(through_ulaw(pcm_to_bytes(mix(pcm_from_bytes(f), pcm_from_bytes(e)))), 8000)
    verdict = tracker.verdict()
    assert verdict.present and verdict.tone_ratio > 0.98


def test_tracker_level_is_a_power_average():
    tracker = ToneTracker(PSTN_TONE_HZ, window=2, on_blocks=1, off_blocks=1)
    tracker.feed(frames_of(PSTN_TONE_HZ, 8000, 1, dbfs=-10.0)[0], 8000)
    tracker.feed(silence(8000), 8000)
    # half the blocks at -10 dBFS, half silent: -13 dBFS, not the -65 a dB average would give
    assert tracker.verdict().level_dbfs == pytest.approx(-13.0, abs=0.1)


def test_tracker_reset_forgets_everything():
    tracker = ToneTracker(PSTN_TONE_HZ)
    for frame in frames_of(PSTN_TONE_HZ, 8000, 10):
        tracker.feed(frame, 8000)
    tracker.feed(b"\x01\x02\x03", 8000)
    tracker.reset()
    assert tracker.verdict() == ToneVerdict(False, SILENCE_DBFS, 0.0, 0)
    tracker.feed(silence(8000), 8000)
    assert tracker.verdict().frames == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"window": 10, "on_blocks": 11},
        {"on_blocks": 3, "off_blocks": 4},
        {"off_blocks": 0},
        {"block_ms": 5},
    ],
)
def test_tracker_rejects_inconsistent_settings(kwargs):
    with pytest.raises(ValueError):
        ToneTracker(PSTN_TONE_HZ, **kwargs)


def test_tracker_rejects_a_rate_too_low_for_its_tone():
    with pytest.raises(ValueError):
        ToneTracker(PBX_TONE_HZ).feed(bytes(40), 2000)
