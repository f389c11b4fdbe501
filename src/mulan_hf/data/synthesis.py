"""Render notes with real instrument samples: the General-MIDI SoundFont TimGM6mb.sf2 that ships inside pretty_midi,
synthesised by tinysoundfont (far faster than real time)."""

import os
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

DRUM_CHANNEL = 9


@dataclass(frozen=True)
class Note:
    start: float  # seconds
    duration: float  # seconds
    pitch: int  # MIDI key, 60 = middle C; for drums the GM percussion key (36 kick, 38 snare, 42 closed hat)
    velocity: int = 90


@dataclass
class Part:
    program: int  # General-MIDI program, 0-127 (ignored for drums)
    notes: list[Note] = field(default_factory=list)
    is_drums: bool = False


def soundfont_path() -> str:
    """Path of the General-MIDI SoundFont that pretty_midi ships."""
    try:
        import pretty_midi
    except ImportError as error:
        raise ImportError("Rendering needs pretty_midi (it ships TimGM6mb.sf2): `pip install pretty_midi`.") from error
    path = os.path.join(os.path.dirname(pretty_midi.__file__), "TimGM6mb.sf2")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} is missing; reinstall pretty_midi.")
    return path


def render(parts: list[Part], seconds: float, sampling_rate: int = 16000, gain_db: float = 0.0) -> np.ndarray:
    """Mono float32 audio of `seconds` seconds, peak-normalised to 0.9 (silence stays silent)."""
    try:
        import tinysoundfont
    except ImportError as error:
        raise ImportError(
            "Rendering needs tinysoundfont: `pip install --no-deps tinysoundfont` (pyaudio is not needed)."
        ) from error
    if len(parts) > 15:
        raise ValueError(f"At most 15 melodic parts plus drums fit the 16 MIDI channels; got {len(parts)}.")
    synth = tinysoundfont.Synth(samplerate=sampling_rate, gain=gain_db)
    font = synth.sfload(soundfont_path())
    events: list[tuple[int, int, int, int, int]] = []  # (sample, order, channel, key, velocity); note-offs first
    melodic_channels = iter(c for c in range(16) if c != DRUM_CHANNEL)
    for part in parts:
        if part.is_drums:
            channel = DRUM_CHANNEL
            synth.program_select(channel, font, 128, 0, True)
        else:
            channel = next(melodic_channels)
            synth.program_select(channel, font, 0, part.program)
        for note in part.notes:
            on = int(round(note.start * sampling_rate))
            off = int(round((note.start + note.duration) * sampling_rate))
            events.append((on, 1, channel, note.pitch, note.velocity))
            events.append((off, 0, channel, note.pitch, 0))
    events.sort()
    total = int(round(seconds * sampling_rate))
    out = np.zeros((total, 2), dtype=np.float32)
    position = 0
    for sample, _, channel, key, velocity in events:
        sample = min(sample, total)
        if sample > position:
            out[position:sample] = np.frombuffer(synth.generate(sample - position), dtype=np.float32).reshape(-1, 2)
            position = sample
        if position >= total:
            break
        if velocity:
            synth.noteon(channel, key, velocity)
        else:
            synth.noteoff(channel, key)
    if position < total:
        out[position:] = np.frombuffer(synth.generate(total - position), dtype=np.float32).reshape(-1, 2)
    mono = out.mean(axis=1)
    peak = float(np.abs(mono).max())
    return mono * (0.9 / peak) if peak > 0 else mono


def write_wav(path: str | Path, audio: np.ndarray, sampling_rate: int) -> Path:
    """16-bit PCM WAV (mono, or (channels, samples))."""
    audio = np.asarray(audio, dtype=np.float32)
    frames = audio[None, :] if audio.ndim == 1 else audio
    pcm = (np.clip(frames.T, -1.0, 1.0) * 32767).astype("<i2")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(frames.shape[0])
        handle.setsampwidth(2)
        handle.setframerate(sampling_rate)
        handle.writeframes(pcm.tobytes())
    return path


def _chord_progression_notes(root: int, seconds: float, beat: float, velocity: int) -> list[Note]:
    chords = [(0, 4, 7), (9, 12, 16), (5, 9, 12), (7, 11, 14)]  # I vi IV V
    notes, t, i = [], 0.0, 0
    while t < seconds:
        for offset in chords[i % 4]:
            notes.append(Note(t, beat * 4 * 0.95, root + offset, velocity))
        t += beat * 4
        i += 1
    return notes


def _melody_notes(root: int, seconds: float, beat: float, velocity: int, seed: int) -> list[Note]:
    rng = np.random.default_rng(seed)
    scale = [0, 2, 4, 5, 7, 9, 11, 12]
    notes, t, degree = [], 0.0, 0
    while t < seconds:
        degree = int(np.clip(degree + rng.choice([-2, -1, 1, 2]), 0, len(scale) - 1))
        length = beat * rng.choice([0.5, 1.0, 1.0, 2.0])
        notes.append(Note(t, length * 0.9, root + scale[degree], velocity))
        t += length
    return notes


def _rock_groove(seconds: float, beat: float) -> list[Note]:
    notes, t, step = [], 0.0, 0
    while t < seconds:
        notes.append(Note(t, beat / 2, 42, 70))  # closed hi-hat on every eighth
        if step % 4 == 0:
            notes.append(Note(t, beat / 2, 36, 110))  # kick on 1 and 3
        if step % 4 == 2:
            notes.append(Note(t, beat / 2, 38, 105))  # snare on 2 and 4
        t += beat / 2
        step += 1
    return notes


def example_pieces(seconds: float = 12.0) -> dict[str, tuple[list[Part], str]]:
    """A few short pieces with known content, for demos and tests: name → (parts, description)."""
    slow, fast = 60 / 70, 60 / 132
    return {
        "piano_ballad": (
            [Part(0, _chord_progression_notes(48, seconds, slow, 60) + _melody_notes(72, seconds, slow, 80, 1))],
            "a slow solo piano ballad",
        ),
        "rock_drums": (
            [Part(0, _rock_groove(seconds, fast), is_drums=True)],
            "a fast rock drum groove",
        ),
        "violin_melody": (
            [Part(40, _melody_notes(67, seconds, slow, 90, 2))],
            "a slow violin melody",
        ),
        "brass_band": (
            [
                Part(61, _chord_progression_notes(55, seconds, fast, 90)),
                Part(56, _melody_notes(72, seconds, fast, 100, 3)),
            ],
            "an upbeat brass section with trumpet",
        ),
    }
