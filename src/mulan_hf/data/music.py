"""Procedural music: styles, keys, chord progressions, melodies, bass lines, accompaniment and drum grooves, rendered
with real General-MIDI instrument samples (see synthesis.py). Every piece comes with the attributes it was made
from, which the corpus turns into text and evaluation labels."""

from dataclasses import asdict, dataclass

import numpy as np

from .synthesis import Note, Part

# General-MIDI programs by family: (program, name used in text, family).
INSTRUMENTS: dict[str, tuple[int, str]] = {
    "piano": (0, "keyboard"),
    "electric piano": (4, "keyboard"),
    "organ": (19, "keyboard"),
    "acoustic guitar": (24, "plucked"),
    "electric guitar": (27, "plucked"),
    "distorted guitar": (30, "plucked"),
    "harp": (46, "plucked"),
    "bass": (33, "plucked"),
    "violin": (40, "bowed"),
    "cello": (42, "bowed"),
    "strings": (48, "bowed"),
    "trumpet": (56, "brass"),
    "trombone": (57, "brass"),
    "french horn": (60, "brass"),
    "saxophone": (65, "reed"),
    "clarinet": (71, "reed"),
    "oboe": (68, "reed"),
    "flute": (73, "pipe"),
    "pan flute": (75, "pipe"),
    "synth lead": (81, "synth"),
    "synth pad": (89, "synth"),
    "marimba": (12, "percussion"),
    "vibraphone": (11, "percussion"),
}
FAMILY_LABELS = {  # AudioSet-style ontology names
    "keyboard": "Keyboard (musical)",
    "plucked": "Plucked string instrument",
    "bowed": "Bowed string instrument",
    "brass": "Brass instrument",
    "reed": "Wind instrument, woodwind instrument",
    "pipe": "Wind instrument, woodwind instrument",
    "synth": "Synthesizer",
    "percussion": "Mallet percussion",
    "drums": "Drum kit",
}
INSTRUMENT_LABELS = {  # the ontology's own name for an instrument where it has one
    "piano": "Piano",
    "electric piano": "Electric piano",
    "organ": "Organ",
    "acoustic guitar": "Acoustic guitar",
    "electric guitar": "Electric guitar",
    "distorted guitar": "Electric guitar",
    "harp": "Harp",
    "bass": "Bass guitar",
    "violin": "Violin, fiddle",
    "cello": "Cello",
    "strings": "String section",
    "trumpet": "Trumpet",
    "trombone": "Trombone",
    "french horn": "French horn",
    "saxophone": "Saxophone",
    "clarinet": "Clarinet",
    "oboe": "Oboe",
    "flute": "Flute",
    "pan flute": "Flute",
    "synth lead": "Synthesizer",
    "synth pad": "Synthesizer",
    "marimba": "Marimba, xylophone",
    "vibraphone": "Vibraphone",
    "drums": "Drum kit",
}
# Other General-MIDI programs that are the same instrument to a listener: each part draws one, so a name is learnt
# from several sample sets' recordings of it, not from one sample.
PROGRAM_VARIANTS: dict[str, tuple[int, ...]] = {
    "piano": (0, 1, 2),
    "electric piano": (4, 5),
    "organ": (16, 17, 19),
    "acoustic guitar": (24, 25),
    "electric guitar": (26, 27, 28),
    "distorted guitar": (29, 30),
    "bass": (32, 33, 34, 35),
    "strings": (48, 49),
    "saxophone": (64, 65, 66, 67),
    "synth lead": (80, 81),
    "synth pad": (88, 89, 90, 91),
}
DRUM_KITS = (0, 8, 16, 24, 25, 32, 40)  # standard, room, power, electronic, TR-808, jazz, brush
# Instruments that can carry a melody or the chords in any style ("free" arrangements, which keep the model from
# learning an instrument from the style it usually plays).
FREE_LEADS = tuple(name for name in INSTRUMENTS if name != "bass")
FREE_HARMONY = (
    "piano", "electric piano", "organ", "acoustic guitar", "electric guitar", "harp", "strings", "synth pad",
    "marimba", "vibraphone",
)  # fmt: skip
KEYS = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
MAJOR, MINOR = [0, 2, 4, 5, 7, 9, 11], [0, 2, 3, 5, 7, 8, 10]


@dataclass(frozen=True)
class Style:
    name: str
    beats_per_bar: int
    tempo_range: tuple[int, int]
    lead: tuple[str, ...]  # melody instruments
    harmony: tuple[str, ...]  # chord instruments
    pattern: str  # accompaniment pattern
    drums: str | None  # groove name or None
    moods: tuple[str, ...]
    progressions: tuple[tuple[int, ...], ...]  # scale degrees (0-based) per bar


STYLES = [
    Style(
        "waltz",
        3,
        (84, 168),
        ("violin", "flute", "clarinet", "piano"),
        ("piano", "strings", "harp"),
        "oompah",
        None,
        ("elegant", "romantic", "happy"),
        ((0, 4, 4, 0), (0, 3, 4, 0), (0, 5, 3, 4)),
    ),
    Style(
        "march",
        4,
        (104, 128),
        ("trumpet", "clarinet", "flute"),
        ("trombone", "french horn"),
        "march",
        "march",
        ("proud", "energetic", "happy"),
        ((0, 3, 4, 0), (0, 4, 0, 4), (0, 0, 3, 4)),
    ),
    Style(
        "ballad",
        4,
        (56, 76),
        ("piano", "violin", "cello", "flute", "saxophone", "oboe"),
        ("piano", "acoustic guitar", "strings", "electric piano"),
        "arpeggio",
        None,
        ("calm", "melancholic", "romantic", "dreamy"),
        ((0, 5, 3, 4), (0, 4, 5, 3), (5, 3, 0, 4)),
    ),
    Style(
        "rock",
        4,
        (110, 150),
        ("distorted guitar", "electric guitar", "synth lead"),
        ("distorted guitar",),
        "power",
        "rock",
        ("energetic", "aggressive", "upbeat"),
        ((0, 6, 3, 4), (0, 3, 4, 3), (0, 4, 5, 3)),
    ),
    Style(
        "bossa nova",
        4,
        (120, 144),
        ("flute", "saxophone", "vibraphone", "electric piano"),
        ("acoustic guitar", "electric piano"),
        "bossa",
        "bossa",
        ("relaxed", "warm", "sunny"),
        ((1, 4, 0, 0), (0, 5, 1, 4), (3, 4, 0, 5)),
    ),
    Style(
        "chorale",
        4,
        (52, 72),
        ("organ", "strings", "french horn", "oboe"),
        ("organ", "strings"),
        "block",
        None,
        ("solemn", "peaceful", "sacred"),
        ((0, 3, 4, 0), (0, 5, 3, 4), (0, 1, 4, 0)),
    ),
    Style(
        "electronic",
        4,
        (118, 134),
        ("synth lead",),
        ("synth pad",),
        "pulse",
        "four_on_floor",
        ("energetic", "hypnotic", "futuristic"),
        ((0, 5, 3, 4), (0, 0, 5, 5), (5, 3, 0, 4)),
    ),
    Style(
        "jazz",
        4,
        (90, 160),
        ("saxophone", "trumpet", "vibraphone", "piano"),
        ("piano", "electric piano"),
        "comp",
        "swing",
        ("smooth", "playful", "relaxed"),
        ((1, 4, 0, 0), (0, 5, 1, 4), (2, 5, 1, 4)),
    ),
    Style(
        "folk",
        4,
        (88, 120),
        ("acoustic guitar", "violin", "flute", "pan flute", "harp"),
        ("acoustic guitar", "harp"),
        "strum",
        None,
        ("warm", "nostalgic", "happy"),
        ((0, 3, 0, 4), (0, 4, 3, 0), (5, 3, 0, 4)),
    ),
    Style(
        "minimalist",
        4,
        (70, 110),
        ("marimba", "vibraphone", "piano", "clarinet"),
        ("marimba", "piano"),
        "ostinato",
        None,
        ("meditative", "hypnotic", "calm"),
        ((0, 0, 5, 5), (0, 3, 0, 3), (5, 5, 3, 4)),
    ),
]
STYLE_BY_NAME = {style.name: style for style in STYLES}


@dataclass
class PieceInfo:
    """What a piece is made of: the ground truth behind its text and its evaluation labels."""

    style: str
    instruments: list[str]  # every instrument heard, "drums" included
    lead: str
    bpm: int
    tempo: str  # slow / moderate / fast
    key: str
    mode: str  # major / minor
    meter: str  # "3/4" or "4/4"
    mood: str
    dynamics: str  # soft / medium / loud
    register: str  # low / middle / high (of the melody)
    ensemble: str  # solo / duo / trio / band

    def to_dict(self) -> dict:
        return asdict(self)


def tempo_word(bpm: int) -> str:
    return "slow" if bpm < 80 else "moderate" if bpm < 115 else "fast"


def _chord(root_pitch: int, scale: list[int], degree: int) -> list[int]:
    """Triad on a scale degree, as MIDI pitches above root_pitch."""
    return [root_pitch + scale[(degree + step) % 7] + 12 * ((degree + step) // 7) for step in (0, 2, 4)]


class PieceGenerator:
    """Makes one piece from a seed: `parts, info = PieceGenerator(seed).make(seconds)`."""

    def __init__(self, seed: int, free_arrangement: float = 0.4):
        self.rng = np.random.default_rng(seed)
        self.free_arrangement = free_arrangement  # probability of instruments drawn regardless of the style

    def part(self, instrument: str, notes: list[Note]) -> Part:
        """A part played by one of the instrument's program variants, with its own pan, level and slight detune
        (as players and mixes differ)."""
        rng = self.rng
        if instrument == "drums":
            return Part(int(self.choice(DRUM_KITS)), notes, is_drums=True, pan=int(rng.integers(52, 77)))
        program = int(self.choice(PROGRAM_VARIANTS.get(instrument, (INSTRUMENTS[instrument][0],))))
        return Part(
            program,
            notes,
            pan=int(rng.integers(24, 105)),
            volume=int(rng.integers(80, 128)),
            detune=float(rng.normal(0.0, 0.08)),
        )

    def choice(self, options):
        return options[int(self.rng.integers(len(options)))]

    def make(self, seconds: float) -> tuple[list[Part], PieceInfo]:
        rng = self.rng
        style = self.choice(STYLES)
        bpm = int(rng.integers(style.tempo_range[0], style.tempo_range[1] + 1))
        beat = 60.0 / bpm
        mode = "minor" if rng.random() < (0.6 if "melancholic" in style.moods else 0.35) else "major"
        scale = MINOR if mode == "minor" else MAJOR
        key_index = int(rng.integers(12))
        progression = list(self.choice(style.progressions))
        dynamics = self.choice(["soft", "medium", "loud"])
        velocity = {"soft": 52, "medium": 78, "loud": 108}[dynamics]
        register = self.choice(["low", "middle", "high"])
        melody_base = 48 + key_index + {"low": 0, "middle": 12, "high": 24}[register]
        harmony_base = 48 + key_index

        ensemble = self.choice(["solo", "duo", "trio", "band"] if style.drums else ["solo", "duo", "trio"])
        free = rng.random() < self.free_arrangement
        lead = self.choice(FREE_LEADS if free else style.lead)
        harmonies = FREE_HARMONY if free else style.harmony
        harmony = self.choice([h for h in harmonies if h != lead] or list(harmonies))
        parts = [self.part(lead, self._melody(melody_base, scale, progression, style, beat, seconds, velocity))]
        instruments = [lead]
        if ensemble in ("duo", "trio", "band"):
            accompaniment = self._accompaniment(harmony_base, scale, progression, style, beat, seconds, velocity - 12)
            parts.append(self.part(harmony, accompaniment))
            instruments.append(harmony)
        if ensemble in ("trio", "band"):
            parts.append(
                self.part("bass", self._bass(36 + key_index, scale, progression, style, beat, seconds, velocity))
            )
            instruments.append("bass")
        if ensemble == "band" and style.drums:
            parts.append(self.part("drums", self._drums(style, beat, seconds, velocity)))
            instruments.append("drums")
        elif ensemble == "solo" and lead in ("piano", "organ", "acoustic guitar", "harp", "electric piano", "marimba"):
            # Solo chordal instruments play their own accompaniment.
            parts[0].notes.extend(
                self._accompaniment(
                    harmony_base - 12 if register != "low" else harmony_base,
                    scale,
                    progression,
                    style,
                    beat,
                    seconds,
                    velocity - 15,
                )
            )
        info = PieceInfo(
            style=style.name,
            instruments=sorted(set(instruments)),
            lead=lead,
            bpm=bpm,
            tempo=tempo_word(bpm),
            key=f"{KEYS[key_index]} {mode}",
            mode=mode,
            meter=f"{style.beats_per_bar}/4",
            mood=self.choice(style.moods) if mode == "major" or rng.random() < 0.5 else "melancholic",
            dynamics=dynamics,
            register=register,
            ensemble=ensemble,
        )
        return parts, info

    # ---------------------------------------------------------------------------------------------------- parts

    def _bars(self, style: Style, beat: float, seconds: float):
        bar = beat * style.beats_per_bar
        for index in range(int(np.ceil(seconds / bar))):
            yield index, index * bar

    def _melody(self, base, scale, progression, style, beat, seconds, velocity) -> list[Note]:
        rng = self.rng
        rhythms = {
            3: [[1, 1, 1], [2, 1], [1.5, 0.5, 1], [3]],
            4: [[1, 1, 1, 1], [2, 2], [1.5, 0.5, 2], [0.5, 0.5, 1, 2], [1, 0.5, 0.5, 1, 1], [4]],
        }[style.beats_per_bar]
        if style.name in ("ballad", "chorale"):
            rhythms = [r for r in rhythms if len(r) <= 3]
        notes, degree = [], int(rng.integers(0, 5))
        motif = [self.choice(rhythms) for _ in range(2)]
        for index, start in self._bars(style, beat, seconds):
            chord_degree = progression[index % len(progression)]
            t = start
            for k, length in enumerate(motif[index % 2]):
                if k == 0:  # land on a chord tone on the downbeat
                    degree = chord_degree + int(self.choice([0, 2, 4]))
                else:
                    degree += int(self.choice([-2, -1, -1, 1, 1, 2, 0]))
                degree = int(np.clip(degree, -2, 11))
                pitch = base + scale[degree % 7] + 12 * (degree // 7)
                accent = 10 if k == 0 else 0
                notes.append(
                    Note(t, length * beat * 0.92, pitch, int(np.clip(velocity + accent + rng.integers(-6, 7), 20, 127)))
                )
                t += length * beat
        return notes

    def _accompaniment(self, base, scale, progression, style, beat, seconds, velocity) -> list[Note]:
        notes = []
        for index, start in self._bars(style, beat, seconds):
            chord = _chord(base, scale, progression[index % len(progression)])
            n = style.beats_per_bar
            if style.pattern == "oompah":  # waltz: bass note, then two chords
                notes.append(Note(start, beat * 0.9, chord[0] - 12, velocity + 5))
                for b in (1, 2):
                    notes += [Note(start + b * beat, beat * 0.6, p, velocity) for p in chord]
            elif style.pattern == "march":
                for b in range(n):
                    if b % 2 == 0:
                        notes.append(Note(start + b * beat, beat * 0.8, chord[0] - 12, velocity + 5))
                    else:
                        notes += [Note(start + b * beat, beat * 0.5, p, velocity) for p in chord]
            elif style.pattern == "arpeggio":
                pitches = chord + [chord[0] + 12, chord[2], chord[1]]
                for k in range(2 * n):
                    notes.append(Note(start + k * beat / 2, beat * 0.9, pitches[k % len(pitches)], velocity))
            elif style.pattern == "power":  # root and fifth, driving eighths
                for k in range(2 * n):
                    notes += [
                        Note(start + k * beat / 2, beat * 0.45, p, velocity + 8) for p in (chord[0] - 12, chord[0] - 5)
                    ]
            elif style.pattern == "bossa":
                for offset in (0, 1.5, 3, 4.5 - 1, 6, 7.0):
                    if offset < 2 * n:
                        notes += [Note(start + offset * beat / 2, beat * 0.4, p, velocity) for p in chord]
            elif style.pattern == "block":
                notes += [
                    Note(start + b * beat * 2, beat * 1.9, p, velocity)
                    for b in range(n // 2)
                    for p in chord + [chord[0] - 12]
                ]
            elif style.pattern == "pulse":  # sustained pad
                notes += [Note(start, beat * n * 0.98, p, velocity) for p in chord + [chord[0] + 12]]
            elif style.pattern == "comp":  # syncopated jazz comping with sevenths
                seventh = chord + [chord[0] + 10 if chord[1] - chord[0] == 3 else chord[0] + 11]
                for offset in (0.5, 2.5, 3.5):
                    notes += [Note(start + offset * beat, beat * 0.4, p, velocity) for p in seventh]
            elif style.pattern == "strum":
                for b in range(n):
                    for k, p in enumerate(chord + [chord[0] + 12]):
                        notes.append(Note(start + b * beat + 0.015 * k, beat * 0.8, p, velocity))
            else:  # ostinato: repeating broken chord in sixteenths
                pattern = [chord[0], chord[1], chord[2], chord[1]]
                for k in range(4 * n):
                    notes.append(Note(start + k * beat / 4, beat * 0.22, pattern[k % 4] + 12, velocity))
        return notes

    def _bass(self, base, scale, progression, style, beat, seconds, velocity) -> list[Note]:
        notes = []
        for index, start in self._bars(style, beat, seconds):
            root = _chord(base, scale, progression[index % len(progression)])[0]
            if style.name == "jazz":  # walking bass
                for b in range(style.beats_per_bar):
                    notes.append(Note(start + b * beat, beat * 0.9, root + [0, 4, 7, 5][b % 4], velocity))
            elif style.name in ("rock", "electronic"):
                notes += [
                    Note(start + k * beat / 2, beat * 0.45, root, velocity) for k in range(2 * style.beats_per_bar)
                ]
            else:
                notes.append(Note(start, beat * 1.8, root, velocity))
                notes.append(Note(start + 2 * beat, beat * 1.8, root + 7, velocity - 5))
        return notes

    def _drums(self, style, beat, seconds, velocity) -> list[Note]:
        kick, snare, hat, ride, rim = 36, 38, 42, 51, 37
        notes = []
        for _, start in self._bars(style, beat, seconds):
            for step in range(8):  # eighth notes in 4/4
                t = start + step * beat / 2
                if style.drums == "rock":
                    notes.append(Note(t, 0.1, hat, velocity - 20))
                    if step in (0, 3, 4):
                        notes.append(Note(t, 0.1, kick, velocity + 10))
                    if step in (2, 6):
                        notes.append(Note(t, 0.1, snare, velocity + 10))
                elif style.drums == "four_on_floor":
                    if step % 2 == 0:
                        notes.append(Note(t, 0.1, kick, velocity + 15))
                    else:
                        notes.append(Note(t, 0.1, 46, velocity - 10))  # open hat on the off-beat
                    if step in (2, 6):
                        notes.append(Note(t, 0.1, 39, velocity))  # clap
                elif style.drums == "march":
                    notes.append(Note(t, 0.1, snare, velocity - 25 + (30 if step % 2 == 0 else 0)))
                    if step in (0, 4):
                        notes.append(Note(t, 0.1, kick, velocity + 5))
                elif style.drums == "bossa":
                    notes.append(Note(t, 0.1, hat, velocity - 30))
                    if step in (0, 3, 4, 7):
                        notes.append(Note(t, 0.1, kick, velocity - 10))
                    if step in (0, 3, 6):
                        notes.append(Note(t, 0.1, rim, velocity - 10))
                elif style.drums == "swing":
                    swung = t + (beat / 6 if step % 2 else 0)
                    if step % 2 == 0 or step in (3, 7):
                        notes.append(Note(swung, 0.2, ride, velocity - 15))
                    if step in (2, 6):
                        notes.append(Note(t, 0.1, 44, velocity - 20))  # pedal hi-hat
        return notes
