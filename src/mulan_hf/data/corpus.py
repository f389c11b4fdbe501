"""The embedded default corpus: procedurally composed music rendered with General-MIDI instrument samples, each
recording annotated with text that imitates the paper's four sources (short-form tags, long-form sentences and
comments, playlist titles, ontology labels). Written in the `audiofolder` layout, so

    datasets.load_dataset("audiofolder", data_dir=DIR)            # splits: train / validation / test

reads it, streaming or not."""

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch

from .music import FAMILY_LABELS, INSTRUMENT_LABELS, INSTRUMENTS, PieceGenerator, PieceInfo
from .synthesis import (
    DEFAULT_SAMPLE_SETS,
    SAMPLE_SETS,
    available_sample_sets,
    render,
    soundfont_path,
    write_wav,
)

TEXT_SOURCES = ("short_form", "long_form", "playlist", "ontology")
SPLITS = ("train", "validation", "test")
LABEL_COLUMNS = ("style", "instruments", "tempo", "mode", "mood", "ensemble")

GENRE_LABELS = {
    "waltz": "Waltz",
    "march": "Marching music",
    "ballad": "Pop music",
    "rock": "Rock music",
    "bossa nova": "Bossa nova",
    "chorale": "Christian music",
    "electronic": "Electronic music",
    "jazz": "Jazz",
    "folk": "Folk music",
    "minimalist": "Classical music",
}
TITLE_WORDS = (
    ["Midnight", "Golden", "Silver", "Lonely", "Summer", "Winter", "Electric", "Velvet", "Broken", "Neon", "Quiet"],
    ["Train", "River", "Garden", "Highway", "Dreams", "Letters", "Skyline", "Harbor", "Echoes", "Window", "Lights"],
)
BOILERPLATE = ["official audio", "official video", "HD", "4K", "full album", "lyrics", "free download", "remastered"]
ACTIVITIES = [
    "study",
    "work",
    "sleep",
    "the gym",
    "a road trip",
    "dinner",
    "reading",
    "a rainy day",
    "running",
    "cooking",
    "late-night coding",
    "meditation",
    "a Sunday morning",
    "the beach",
    "a house party",
]
COMMENTS = [
    "first!",
    "my dad used to play this every sunday",
    "who is still listening in 2024?",
    "this brings back memories",
    "thanks for uploading",
    "can someone tell me the name of this song?",
    "I was here before it went viral",
    "subscribed, keep it up",
    "this is my mom's favourite",
    "lol the thumbnail",
    "came here from a meme",
    "greetings from Brazil",
    "whoever disliked this has no taste",
    "R.I.P. legend",
    "played this at my wedding",
    "my cat loves this one",
    "anyone here for the exam tomorrow?",
    "link in the description doesn't work",
    "10/10 would listen again",
    "this deserves more views",
    "who else found this at 3am?",
    "pls upload part 2",
]
LONG_FORM_TEMPLATES = [
    "A {mood} {style} piece led by {lead_a}.",
    "{Lead} carries the melody over {support}, at a {tempo} {bpm} beats per minute.",
    "This is a {tempo}, {mood} track in {key_phrase}, played by {ensemble_phrase}.",
    "The {lead} plays a {register} melody while {support} keep the {style} feel going.",
    "Instrumental {style} in {meter} time with {instrument_list}.",
    "Sounds like {style}: {mood}, {dynamics_word}, and built around {lead_a}.",
    "I love how the {lead} sings over the {support} here, so {mood}.",
    "{Mood} and {dynamics_word}, this {ensemble_word} piece moves at a {tempo} pace.",
    "Features {instrument_list} in a {mode} key, perfect if you like {style}.",
    "The arrangement is simple: {lead_a} in the {register} register and {support}.",
    "A {dynamics_word} {style} tune; the {lead} melody feels {mood}.",
    "{Tempo} {style} with a {mood} mood and {lead_a} up front.",
    "Listen to the {lead} here, such a {mood} sound for a {style} track.",
    "{Ensemble_phrase_cap} playing {style} in {key_phrase} at about {bpm} bpm.",
    "This song has a {mood} vibe thanks to the {lead} and the {mode} harmony.",
    "No vocals, just {instrument_list} playing a {tempo} {style}.",
    "A {tempo} piece in a {mode} key.",
    "{Tempo} tempo, {mode} mode, with {instrument_list}.",
    "In {mode}, at a {tempo} pace: {lead_a} with {support}.",
    "A {mode} key {style} tune with a {tempo} pulse.",
    "{Mode_colour} {mode} harmony and a {tempo} beat.",
    "The tempo is {tempo} and the key is {mode}.",
]
PLAYLIST_TEMPLATES = [
    "{Mood} {lead} for {activity}",
    "{Tempo} {style} for {activity}",
    "{Style} essentials",
    "{Mood} {style} vibes",
    "{Lead} for {activity}",
    "Best of {style}",
    "{Style} and chill",
    "{Mood} instrumentals",
    "{Lead} moods",
    "{Style} for {activity}",
    "Pure {lead}",
    "{Tempo} and {mood}",
    "{Tempo} {mode} {style}",
    "{Tempo} tunes in {mode}",
    "{Mode} key {lead}",
    "{Tempo} {lead} in a {mode} key",
    "{Mode} key {style} for {activity}",
    "{Tempo} {mode} instrumentals",
    "{Mode_colour} {mode} moods",
]
# How a listener may name an instrument besides the corpus's own name (the 13 plain labels of the transfer
# evaluation are among the names).
INSTRUMENT_ALIASES = {
    "distorted guitar": ("distorted guitar", "distorted electric guitar", "electric guitar"),
    "electric guitar": ("electric guitar", "clean electric guitar"),
    "bass": ("bass", "bass guitar"),
    "drums": ("drums", "drum kit"),
    "synth pad": ("synth pad", "synthesizer pad"),
    "strings": ("strings", "string section"),
}


def _article(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


class Annotator:
    """Turns a piece's attributes into the four text sources, with realistic noise."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def pick(self, options):
        return options[int(self.rng.integers(len(options)))]

    def slots(self, info: PieceInfo) -> dict[str, str]:
        others = [i for i in info.instruments if i != info.lead]
        support = _join(others) if others else "nothing else"
        values = {
            "mood": info.mood,
            "style": info.style,
            "lead": info.lead,
            "lead_a": _article(info.lead),
            "support": support,
            "tempo": info.tempo,
            "bpm": str(info.bpm),
            "key_phrase": info.key if self.rng.random() < 0.5 else f"a {info.mode} key",
            "mode": info.mode,
            "mode_colour": "bright" if info.mode == "major" else "dark",
            "meter": info.meter,
            "register": info.register,
            "dynamics_word": {"soft": "gentle", "medium": "steady", "loud": "powerful"}[info.dynamics],
            "instrument_list": _join(info.instruments),
            "ensemble_word": info.ensemble,
            "ensemble_phrase": {"solo": f"a solo {info.lead}", "duo": "a duo", "trio": "a trio", "band": "a full band"}[
                info.ensemble
            ],
            "activity": self.pick(ACTIVITIES),
        }
        values.update({k[0].upper() + k[1:]: v[0].upper() + v[1:] for k, v in list(values.items())})
        values["Ensemble_phrase_cap"] = values["ensemble_phrase"][0].upper() + values["ensemble_phrase"][1:]
        return values

    def short_form(self, info: PieceInfo) -> list[str]:
        instruments = [self.pick(INSTRUMENT_ALIASES.get(i, (i,))) for i in info.instruments]
        mode = self.pick([info.mode, f"{info.mode} key", f"in {info.mode}"])
        tempo = self.pick([info.tempo, f"{info.tempo} tempo"])
        tags = [info.style, info.mood, *instruments, "instrumental"]
        if info.ensemble == "solo":
            tags.append(f"solo {info.lead}")
        tags = [t for t in tags if self.rng.random() < 0.85] + [t for t in (tempo, mode) if self.rng.random() < 0.95]
        title = f"{self.pick(TITLE_WORDS[0])} {self.pick(TITLE_WORDS[1])}"
        noise = [
            title,
            f"CAT-{int(self.rng.integers(1000, 9999))}",
            self.pick(BOILERPLATE),
            f"#{info.style.replace(' ', '')}",
            str(int(self.rng.integers(1990, 2025))),
            f"{title} ({self.pick(BOILERPLATE)})",
        ]
        tags += [n for n in noise if self.rng.random() < 0.35]
        self.rng.shuffle(tags)
        return tags

    def long_form(self, info: PieceInfo) -> list[str]:
        values = self.slots(info)
        count = int(self.rng.integers(1, 4))
        templates = self.rng.choice(len(LONG_FORM_TEMPLATES), size=count, replace=False)
        sentences = [LONG_FORM_TEMPLATES[int(t)].format(**values) for t in templates]
        sentences += [self.pick(COMMENTS) for _ in range(int(self.rng.integers(0, 3)))]
        self.rng.shuffle(sentences)
        return sentences

    def playlist(self, info: PieceInfo) -> list[str]:
        titles = []
        for _ in range(int(self.rng.integers(1, 3))):
            titles.append(self.pick(PLAYLIST_TEMPLATES).format(**self.slots(info)))
        return titles

    def ontology(self, info: PieceInfo) -> list[str]:
        labels = {INSTRUMENT_LABELS[i] for i in info.instruments}
        labels |= {FAMILY_LABELS["drums" if i == "drums" else INSTRUMENTS[i][1]] for i in info.instruments}
        labels.add(GENRE_LABELS[info.style])
        labels.add("Music")
        return sorted(labels)

    def annotate(self, info: PieceInfo) -> dict[str, list[str]]:
        return {source: getattr(self, source)(info) for source in TEXT_SOURCES}


@dataclass(frozen=True)
class Recording:
    index: int
    split: str
    file_name: str
    audio: np.ndarray
    metadata: dict


def split_of(index: int) -> str:
    """Fixed split by recording: 8 in 10 train, 1 validation, 1 test."""
    return "validation" if index % 10 == 8 else "test" if index % 10 == 9 else "train"


def make_recording(
    index: int,
    seed: int,
    seconds: float = 30.0,
    sampling_rate: int = 16000,
    sample_sets: tuple[str, ...] = DEFAULT_SAMPLE_SETS,
) -> Recording:
    """Recording `index` of the corpus with this seed: a composed piece rendered with one of `sample_sets`
    (drawn per recording and kept in the `soundfont` column) and its texts."""
    if not sample_sets:
        raise ValueError("At least one sample set is needed to render a recording.")
    piece_seed = np.random.SeedSequence([seed, index]).generate_state(1)[0]
    parts, info = PieceGenerator(int(piece_seed)).make(seconds)
    sample_set = sample_sets[int(np.random.default_rng([seed, index, 2]).integers(len(sample_sets)))]
    audio = render(parts, seconds, sampling_rate, sample_set)
    texts = Annotator(np.random.default_rng([seed, index, 1])).annotate(info)
    recording_id = f"rec-{index:06d}"
    metadata = {
        "file_name": f"{recording_id}.flac",
        "recording_id": recording_id,
        **texts,
        **info.to_dict(),
        "soundfont": sample_set,
    }
    return Recording(index, split_of(index), metadata["file_name"], audio, metadata)


def _render_task(args: tuple[int, int, float, int, str, tuple[str, ...]]) -> tuple[str, dict]:
    index, seed, seconds, sampling_rate, out, sample_sets = args
    from torchcodec.encoders import AudioEncoder

    recording = make_recording(index, seed, seconds, sampling_rate, sample_sets)
    path = Path(out) / recording.split / recording.file_name
    # On the 16-bit grid: FLAC then stores 16 significant bits (about 40 % smaller than the 24 it would keep).
    pcm16 = np.clip(np.round(recording.audio * 32768.0), -32768, 32767) / 32768.0
    AudioEncoder(torch.from_numpy(pcm16.astype(np.float32)).unsqueeze(0), sample_rate=sampling_rate).to_file(str(path))
    return recording.split, recording.metadata


def iter_render(
    out: Path,
    num_recordings: int,
    seed: int,
    seconds: float,
    sampling_rate: int,
    workers: int,
    sample_sets: tuple[str, ...] = DEFAULT_SAMPLE_SETS,
) -> Iterator:
    tasks = [(i, seed, seconds, sampling_rate, str(out), tuple(sample_sets)) for i in range(num_recordings)]
    if workers <= 1:
        yield from map(_render_task, tasks)
        return
    with get_context("spawn").Pool(workers) as pool:
        yield from pool.imap(_render_task, tasks, chunksize=8)


def make_corpus(
    out: str | Path,
    num_recordings: int = 2000,
    seed: int = 0,
    seconds: float = 30.0,
    sampling_rate: int = 16000,
    workers: int = 2,
    progress: bool = True,
    sample_sets: tuple[str, ...] | list[str] = DEFAULT_SAMPLE_SETS,
) -> dict:
    """Render `num_recordings` recordings into `out` (audiofolder layout with train/validation/test folders, each
    with FLAC files and a metadata.jsonl). Each recording is rendered with one of `sample_sets` (names from
    `SAMPLE_SETS` or SoundFont paths), recorded in its `soundfont` column. Deterministic for a given seed. Returns a
    summary with the render time and the recordings per sample set."""
    from tqdm.auto import tqdm

    if num_recordings < 1:
        raise ValueError(f"num_recordings must be at least 1, got {num_recordings}.")
    sample_sets = tuple(sample_sets)
    if not sample_sets:
        raise ValueError(f"Give at least one sample set (known: {sorted(SAMPLE_SETS)}).")
    for sample_set in sample_sets:  # fail before rendering anything, naming the package to install
        soundfont_path(sample_set)
    out = Path(out)
    for split in SPLITS:
        (out / split).mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    rows: dict[str, list[dict]] = {split: [] for split in SPLITS}
    results = iter_render(out, num_recordings, seed, seconds, sampling_rate, workers, sample_sets)
    for split, metadata in tqdm(
        results, total=num_recordings, desc="Rendering corpus", unit="rec", disable=not progress
    ):
        rows[split].append(metadata)
    for split in SPLITS:
        with open(out / split / "metadata.jsonl", "w") as handle:
            for row in rows[split]:
                handle.write(json.dumps(row) + "\n")
    summary = {
        "num_recordings": num_recordings,
        "seed": seed,
        "seconds": seconds,
        "sampling_rate": sampling_rate,
        "splits": {split: len(rows[split]) for split in SPLITS},
        "sample_sets": {
            name: sum(row["soundfont"] == name for split in SPLITS for row in rows[split]) for name in sample_sets
        },
        "render_seconds": round(time.perf_counter() - start, 2),
    }
    (out / "corpus.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "README.md").write_text(_dataset_card(summary))
    return summary


def _dataset_card(summary: dict) -> str:
    return f"""---
task_categories: [audio-classification, text-to-audio]
pretty_name: mulan-hf embedded music-text corpus
---
# mulan-hf embedded corpus

{summary["num_recordings"]} recordings of {summary["seconds"]:g} s at {summary["sampling_rate"]} Hz, composed
procedurally (seed {summary["seed"]}), each rendered with one of several independent General-MIDI sample sets
(recordings per set, in the `soundfont` column: {summary["sample_sets"]}). Splits: {summary["splits"]}.

Text columns imitate MuLan's sources: `short_form` (tags, with noise such as titles and catalogue numbers),
`long_form` (sentences, with non-descriptive comments mixed in), `playlist` (playlist titles), `ontology`
(AudioSet-style labels). Label columns: {", ".join(LABEL_COLUMNS)}, plus bpm, key, meter, lead, dynamics, register
and soundfont.

```python
from datasets import load_dataset
corpus = load_dataset("audiofolder", data_dir="<this folder>")
```
"""


def gallery_caption(metadata: dict) -> str:
    """A clean one-line description of a recording from its attributes (no annotator noise)."""
    return (
        f"{metadata['mood'].capitalize()} {metadata['style']} with {_join(list(metadata['instruments']))}, "
        f"{metadata['tempo']} ({metadata['bpm']} BPM), {metadata['key']}, {metadata['meter']}"
    )


def write_gallery(
    folder: str | Path,
    count: int = 24,
    seconds: float = 10.0,
    seed: int = 0,
    sampling_rate: int = 16000,
    sample_sets: tuple[str, ...] | None = None,
) -> list[dict]:
    """Render `count` pieces like the embedded corpus's test split (never trained on) as `seconds`-long WAV clips
    with a `gallery.json` of file names, captions and tags, e.g. the demo Space's gallery. `sample_sets` defaults
    to those installed here. Deterministic for a given seed and sample sets; returns the gallery entries."""
    if count < 1:
        raise ValueError(f"A gallery needs at least one clip, got count={count}.")
    sample_sets = tuple(sample_sets or available_sample_sets())
    if not sample_sets:
        soundfont_path("timgm6mb")  # raises, naming what to install
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    index = 9  # test-split indices: 9, 19, 29, ...
    while len(entries) < count:
        recording = make_recording(index, seed, seconds, sampling_rate, sample_sets)
        name = f"{recording.metadata['recording_id']}.wav"
        write_wav(folder / name, recording.audio, sampling_rate)
        meta = recording.metadata
        entries.append(
            {
                "file_name": name,
                "caption": gallery_caption(meta),
                "tags": [meta["style"], *meta["instruments"], meta["tempo"], meta["mood"], f"{meta['mode']} key"],
            }
        )
        index += 10
    (folder / "gallery.json").write_text(json.dumps(entries, indent=1) + "\n")
    return entries
