"""Render notes with real instrument samples. Several independent General-MIDI sample sets are known by name
(`SAMPLE_SETS`): the TimGM6mb.sf2 that ships inside pretty_midi, csound's sf_GMbank.sf2 and the OPL3 FM bank
(Debian packages `csound-soundfont`, `opl3-soundfont`). tinysoundfont synthesises them far faster than real time.

Fluid R3 and the banks built on its samples (MuseScore General) are refused: the project keeps them for evaluating
what its models learnt on sounds they never heard."""

import os
import wave
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

DRUM_CHANNEL = 9
DRUM_BANK = 128


@dataclass(frozen=True)
class Note:
    start: float  # seconds
    duration: float  # seconds
    pitch: int  # MIDI key, 60 = middle C; for drums the GM percussion key (36 kick, 38 snare, 42 closed hat)
    velocity: int = 90


@dataclass
class Part:
    program: int  # General-MIDI program, 0-127 (for drums: the kit, 0 = standard)
    notes: list[Note] = field(default_factory=list)
    is_drums: bool = False
    pan: int = 64  # MIDI pan, 0 (left) to 127 (right): stereo spread before the mono downmix
    volume: int = 100  # MIDI channel volume, 0-127
    detune: float = 0.0  # semitones


@dataclass(frozen=True)
class SampleSet:
    """A General-MIDI SoundFont known by name: where it is found and how to install it."""

    name: str
    description: str
    paths: tuple[str, ...]
    install: str


def _pretty_midi_soundfont() -> tuple[str, ...]:
    try:
        import pretty_midi
    except ImportError:
        return ()
    return (os.path.join(os.path.dirname(pretty_midi.__file__), "TimGM6mb.sf2"),)


SAMPLE_SETS: dict[str, SampleSet] = {
    s.name: s
    for s in (
        SampleSet("timgm6mb", "TimGM6mb (Tim Brechbill), shipped inside pretty_midi", (), "pip install pretty_midi"),
        SampleSet(
            "gmbank",
            # Not fully independent of TimGM6mb: 39 of its 128 melodic programs (4-9, 12, 13, 15, 27, 28, 31, 32,
            # 35, 36, 43, 45, 47, 57-59, 74, 84, 87, 98, 104-108, 110-116, 118, 120) and all its drum kits render
            # sample for sample like TimGM6mb's (measured 2026-11-30), so holding it out overstates transfer.
            "csound's sf_GMbank (shares about a third of its programs and its drum kits with TimGM6mb)",
            ("/usr/share/sounds/sf2/sf_GMbank.sf2", "/usr/share/samples/sf_GMbank.sf2"),
            "apt-get install csound-soundfont",
        ),
        SampleSet(
            "opl3",
            "an OPL3 FM-synthesis chip, sampled",
            ("/usr/share/sounds/sf2/OPL-3_FM_128M.sf2",),
            "apt-get install opl3-soundfont",
        ),
    )
}
DEFAULT_SAMPLE_SETS = tuple(SAMPLE_SETS)
# Kept out of training on purpose (see the module's docstring).
_EVALUATION_ONLY = ("fluidr3", "fluid_r3", "fluid-r3", "musescore_general", "musescore-general", "musescoregeneral")


def soundfont_path(sample_set: str = "timgm6mb") -> str:
    """Path of a sample set's SoundFont: a name from `SAMPLE_SETS` or a path to an .sf2/.sf3 file."""
    if sample_set in SAMPLE_SETS:
        known = SAMPLE_SETS[sample_set]
        candidates = _pretty_midi_soundfont() if sample_set == "timgm6mb" else known.paths
        for path in candidates:
            if os.path.isfile(path):
                return path
        raise FileNotFoundError(
            f"The SoundFont of sample set {sample_set!r} ({known.description}) is missing "
            f"(looked in {list(candidates) or ['the pretty_midi package']}): `{known.install}`."
        )
    if sample_set.lower().endswith((".sf2", ".sf3")):
        if any(tag in Path(sample_set).name.lower() for tag in _EVALUATION_ONLY):
            raise ValueError(
                f"{sample_set} is Fluid R3 or built on its samples: mulan-hf keeps those for independent evaluation "
                "and never renders training data with them."
            )
        if not os.path.isfile(sample_set):
            raise FileNotFoundError(f"No SoundFont file at {sample_set}.")
        return sample_set
    raise ValueError(f"Unknown sample set {sample_set!r}: use one of {sorted(SAMPLE_SETS)} or a .sf2/.sf3 path.")


def available_sample_sets() -> tuple[str, ...]:
    """The names in `SAMPLE_SETS` whose SoundFont is installed here."""
    available = []
    for name in SAMPLE_SETS:
        try:
            soundfont_path(name)
        except (FileNotFoundError, ValueError):
            continue
        available.append(name)
    return tuple(available)


@lru_cache(maxsize=4)
def _synth(path: str, sampling_rate: int):
    """One loaded synthesiser per SoundFont and rate in a process (the OPL3 bank takes half a second to load)."""
    try:
        import tinysoundfont
    except ImportError as error:
        raise ImportError(
            "Rendering needs tinysoundfont: `pip install --no-deps tinysoundfont` (pyaudio is not needed)."
        ) from error
    synth = tinysoundfont.Synth(samplerate=sampling_rate)
    return synth, synth.sfload(path)


def _setup_channel(synth, font: int, channel: int, part: Part) -> None:
    synth.control_change(channel, 121, 0)  # reset all controllers left by the previous piece (its voices are over)
    if part.is_drums:
        kit = part.program if synth.sfpreset_name(font, DRUM_BANK, part.program) else 0
        synth.program_select(channel, font, DRUM_BANK, kit, True)
    else:
        synth.program_select(channel, font, 0, part.program)
    synth.control_change(channel, 7, int(np.clip(part.volume, 0, 127)))
    synth.control_change(channel, 10, int(np.clip(part.pan, 0, 127)))
    synth.set_tuning(channel, float(part.detune))


def render(parts: list[Part], seconds: float, sampling_rate: int = 16000, sample_set: str = "timgm6mb") -> np.ndarray:
    """Mono float32 audio of `seconds` seconds rendered with `sample_set` (a `SAMPLE_SETS` name or a SoundFont
    path), peak-normalised to 0.9 (silence stays silent). Parts are panned before the stereo mix is downmixed."""
    if len(parts) > 15:
        raise ValueError(f"At most 15 melodic parts plus drums fit the 16 MIDI channels; got {len(parts)}.")
    synth, font = _synth(soundfont_path(sample_set), sampling_rate)
    events: list[tuple[int, int, int, int, int]] = []  # (sample, order, channel, key, velocity); note-offs first
    melodic_channels = iter(c for c in range(16) if c != DRUM_CHANNEL)
    for part in parts:
        channel = DRUM_CHANNEL if part.is_drums else next(melodic_channels)
        _setup_channel(synth, font, channel, part)
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
    # The synthesiser is reused: silence every voice (a fast release) and let it finish, so the next piece starts
    # from silence and renders exactly as it would in a fresh process.
    synth.sounds_off()
    synth.generate(int(0.25 * sampling_rate))
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
