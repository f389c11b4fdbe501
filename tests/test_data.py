"""The embedded corpus, training streams from any dataset, the source mixture, text filtering and bad records."""

import collections
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import SAMPLING_RATE
from datasets import Audio, Dataset, load_dataset

from mulan_hf import MuLanFeatureExtractor, MuLanProcessor
from mulan_hf.audio_io import decode_audio
from mulan_hf.data import streams
from mulan_hf.data.corpus import COMMENTS, INSTRUMENT_ALIASES, make_corpus, make_recording
from mulan_hf.data.music import INSTRUMENTS, STYLES, PieceGenerator
from mulan_hf.data.negatives import counterfactual_text
from mulan_hf.data.streams import (
    MuLanCollator,
    TextSource,
    WindowSampler,
    build_training_stream,
    default_sources,
    remember_pitch_class_profiles,
    set_stream_epoch,
)
from mulan_hf.data.synthesis import write_wav
from mulan_hf.data.text_filter import (
    MusicTextClassifier,
    clean_short_form,
    filter_text_column,
    labelled_sentences,
    train_music_text_classifier,
)

SECONDS = 6.0
WINDOW = 2.0


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    make_corpus(out, num_recordings=30, seed=7, seconds=SECONDS, workers=1, progress=False)
    return out


def encode_flac(path: Path, audio: np.ndarray) -> None:
    from torchcodec.encoders import AudioEncoder

    AudioEncoder(torch.from_numpy(audio.astype(np.float32)).unsqueeze(0), sample_rate=SAMPLING_RATE).to_file(str(path))


# ------------------------------------------------------------------------------------------------------- corpus


def test_corpus_is_an_audiofolder_with_fixed_splits(corpus_dir):
    corpus = load_dataset("audiofolder", data_dir=str(corpus_dir))
    assert {split: len(corpus[split]) for split in corpus} == {"train": 24, "validation": 3, "test": 3}
    for column in ("short_form", "long_form", "playlist", "ontology", "instruments", "style", "tempo", "mode"):
        assert column in corpus["train"].column_names
    decoded = corpus["test"][0]["audio"].get_all_samples()
    assert decoded.sample_rate == SAMPLING_RATE and decoded.data.shape == (1, int(SECONDS * SAMPLING_RATE))
    ids = {split: set(corpus[split]["recording_id"]) for split in corpus}
    assert not (ids["train"] & ids["test"]) and not (ids["train"] & ids["validation"])
    assert ids["test"] == {f"rec-{i:06d}" for i in range(30) if i % 10 == 9}
    streamed = load_dataset("audiofolder", data_dir=str(corpus_dir), split="validation", streaming=True)
    assert sorted(row["recording_id"] for row in streamed) == sorted(ids["validation"])
    summary = json.loads((corpus_dir / "corpus.json").read_text())
    assert summary["num_recordings"] == 30 and summary["render_seconds"] > 0


def test_corpus_is_deterministic(corpus_dir):
    again = make_recording(4, seed=7, seconds=SECONDS)
    rows = [json.loads(line) for line in (corpus_dir / "train" / "metadata.jsonl").read_text().splitlines()]
    assert next(r for r in rows if r["recording_id"] == "rec-000004") == again.metadata
    from torchcodec.decoders import AudioDecoder

    stored = AudioDecoder(str(corpus_dir / "train" / "rec-000004.flac")).get_all_samples().data[0].numpy()
    np.testing.assert_allclose(stored, again.audio, atol=1 / 2**15)  # 16-bit FLAC
    assert make_recording(4, seed=8, seconds=SECONDS).metadata != again.metadata


def test_music_generator_is_varied():
    pieces = [PieceGenerator(seed).make(8.0)[1] for seed in range(400)]
    heard = collections.Counter(i for p in pieces for i in p.instruments)
    programs = {INSTRUMENTS[i][0] for i in heard if i != "drums"}
    families = {INSTRUMENTS[i][1] for i in heard if i != "drums"}
    assert len(programs) >= 16
    assert {"keyboard", "plucked", "bowed", "brass", "reed", "pipe", "synth", "percussion"} <= families
    assert "drums" in heard
    assert {p.style for p in pieces} == {s.name for s in STYLES}
    assert {p.mode for p in pieces} == {"major", "minor"} and {p.meter for p in pieces} == {"3/4", "4/4"}
    assert {p.tempo for p in pieces} == {"slow", "moderate", "fast"}
    assert {p.ensemble for p in pieces} == {"solo", "duo", "trio", "band"}
    assert {p.dynamics for p in pieces} == {"soft", "medium", "loud"}
    assert {p.register for p in pieces} == {"low", "middle", "high"}
    assert len({p.key for p in pieces}) == 24


def test_annotations_imitate_the_papers_sources():
    metadata = [make_recording(i, seed=3, seconds=1.0).metadata for i in range(60)]
    short = [t for m in metadata for t in m["short_form"]]
    long_form = [t for m in metadata for t in m["long_form"]]
    assert any(t.startswith("CAT-") for t in short) and any(t.isdigit() for t in short)  # realistic noise
    names = {i: INSTRUMENT_ALIASES.get(i, (i,)) for m in metadata for i in m["instruments"]}
    tagged = [any(name in m["short_form"] for name in names[i]) for m in metadata for i in m["instruments"]]
    assert 0.7 < np.mean(tagged) < 1.0  # instruments are usually, not always, tagged
    comments = [t for t in long_form if t in COMMENTS]
    assert 0.1 < len(comments) / len(long_form) < 0.5
    assert len({t for t in long_form if t not in COMMENTS}) > 100  # many phrasings
    assert all(m["playlist"] and m["ontology"] for m in metadata)
    assert all("Music" in m["ontology"] for m in metadata)
    drums = [m for m in metadata if "drums" in m["instruments"]]
    assert drums and all("Drum kit" in m["ontology"] for m in drums)


# ------------------------------------------------------------------------------------------------------ streams


class FixedStart:
    """A stand-in random generator whose window always starts `start` seconds in (to check what is decoded)."""

    def __init__(self, start: float):
        self.start = start

    def uniform(self, low: float, high: float) -> float:
        return min(self.start, high)

    def integers(self, n: int) -> int:
        return 0


def test_only_the_sampled_window_is_decoded(tmp_path):
    ramp = np.linspace(0.0, 0.9, 20 * SAMPLING_RATE, dtype=np.float32)  # the sample value tells its time
    encode_flac(tmp_path / "ramp.flac", ramp)
    sampler = WindowSampler(TextSource("t", ["text"]), "audio", window_seconds=WINDOW)
    sampler.rng = FixedStart(5.0)
    window, profile, key = sampler._window({"path": str(tmp_path / "ramp.flac"), "bytes": None})
    assert len(window) == WINDOW * SAMPLING_RATE and profile is None and key == ""
    np.testing.assert_allclose(window, ramp[5 * SAMPLING_RATE : 7 * SAMPLING_RATE], atol=1e-4)


class ContextSpan:
    """A stand-in for `clip_pitch_class_profile` that reports which seconds of the ramp it was given."""

    def __init__(self):
        self.calls = 0

    def __call__(self, context: np.ndarray) -> np.ndarray:
        self.calls += 1
        return np.array([context[0] / 0.9 * 20, (context[-1] / 0.9 * 20), len(context) / SAMPLING_RATE] + [0.0] * 9)


def test_a_windows_pitch_class_context_is_centred_on_it_inside_the_recording_and_remembered(tmp_path):
    """With `pitch_class_seconds` the sampler decodes the context centred on the window (kept inside the recording,
    as the feature extractor keeps it inside a clip), cuts the window out of it, and remembers the profile of a
    context met before by any sampler of the process (a recording no longer than the context has one: later visits
    decode only the window)."""
    ramp = np.linspace(0.0, 0.9, 20 * SAMPLING_RATE, dtype=np.float32)  # value / 0.9 * 20 = seconds in
    encode_flac(tmp_path / "ramp.flac", ramp)
    audio = {"path": str(tmp_path / "ramp.flac"), "bytes": None}
    streams._PROFILES.clear()
    span = ContextSpan()
    sampler = WindowSampler(
        TextSource("t", ["text"]), "audio", window_seconds=WINDOW, pitch_class_seconds=8.0, pitch_class_profile=span
    )
    for start, context in ((5.0, (2.0, 10.0)), (1.0, (0.0, 8.0)), (17.5, (12.0, 20.0))):
        sampler.rng = FixedStart(start)
        window, profile, key = sampler._window(audio, recording="ramp")
        assert key == f"ramp|{int(context[0] * 1000)}|8000|{SAMPLING_RATE}"
        first = int(start * SAMPLING_RATE)
        np.testing.assert_allclose(window, ramp[first : first + int(WINDOW * SAMPLING_RATE)], atol=1e-4)
        np.testing.assert_allclose(profile[:3], [context[0], context[1], 8.0], atol=1e-3)
    assert span.calls == 3
    sampler.rng = FixedStart(5.0)
    window, profile, _ = sampler._window(audio, recording="ramp")
    assert span.calls == 3 and profile[0] == pytest.approx(2.0, abs=1e-3)  # remembered, window decoded alone
    np.testing.assert_allclose(window, ramp[5 * SAMPLING_RATE : 7 * SAMPLING_RATE], atol=1e-4)
    other_source = WindowSampler(
        TextSource("u", ["text"]), "audio", window_seconds=WINDOW, pitch_class_seconds=8.0, pitch_class_profile=span
    )
    other_source.rng = FixedStart(17.5)
    assert other_source._window(audio, recording="ramp")[1][0] == pytest.approx(12.0, abs=1e-3)
    assert span.calls == 3  # the samplers of one process (a mixture's sources) share what they remember
    with pytest.raises(ValueError, match="go together"):
        WindowSampler(TextSource("t", ["text"]), "audio", pitch_class_seconds=8.0)


def test_paper_clip_extraction_and_random_windows(tmp_path):
    ramp = np.linspace(0.0, 0.7, 70 * SAMPLING_RATE, dtype=np.float32)  # 0.01 per second
    encode_flac(tmp_path / "long.flac", ramp)
    rows = Dataset.from_dict({"audio": [str(tmp_path / "long.flac")] * 40, "text": [["a", "b", "c"]] * 40})
    rows = rows.cast_column("audio", Audio()).to_iterable_dataset()
    stream = build_training_stream(
        rows, [TextSource("t", ["text"])], window_seconds=WINDOW, clip_offset=30.0, clip_seconds=30.0, shuffle_buffer=1
    )
    examples = list(stream)
    starts = [e["audio"][0] / 0.01 for e in examples]
    assert all(29.9 <= s <= 58.1 for s in starts)  # inside the 30 s clip from second 30
    assert np.std(starts) > 3  # random windows
    assert {e["text"] for e in examples} == {"a", "b", "c"}  # random texts


def test_mixture_draws_sources_in_proportion():
    rows = Dataset.from_dict(
        {
            "audio": [None] * 500,
            "short_form": [["rock", "fast"]] * 500,
            "long_form": [["A fast rock song with loud guitars."]] * 500,
            "playlist": [["Rock for running"]] * 500,
            "ontology": [["Rock music"]] * 500,
        }
    ).to_iterable_dataset(num_shards=4)
    stream = build_training_stream(rows, default_sources(), window_seconds=None, seed=3)
    counts: collections.Counter = collections.Counter()
    epoch = 0
    while sum(counts.values()) < 10_000:
        stream.set_epoch(epoch)
        for example in stream:
            counts[example["source"]] += 1
            if sum(counts.values()) == 10_000:
                break
        epoch += 1
    shares = {name: counts[name] / 10_000 for name in counts}
    for name, expected in {"short_form": 2 / 6, "long_form": 2 / 6, "playlist": 1 / 6, "ontology": 1 / 6}.items():
        assert abs(shares[name] - expected) < 0.02, shares


def test_set_epoch_reshuffles_and_nodes_get_disjoint_rows(corpus_dir):
    only_ids = [TextSource("id", ["recording_id"])]

    def ids(**kwargs):
        stream = build_training_stream(str(corpus_dir), only_ids, window_seconds=None, shuffle_buffer=100, **kwargs)
        return [e["text"] for e in stream]

    stream = build_training_stream(str(corpus_dir), only_ids, window_seconds=None, shuffle_buffer=100)
    stream.set_epoch(0)
    first = [e["text"] for e in stream]
    stream.set_epoch(1)
    second = [e["text"] for e in stream]
    assert sorted(first) == sorted(second) and first != second
    rank0, rank1 = ids(rank=0, world_size=2), ids(rank=1, world_size=2)
    assert not set(rank0) & set(rank1) and sorted(rank0 + rank1) == sorted(first)


def test_window_and_text_draws_depend_on_recording_and_epoch_not_on_workers(corpus_dir):
    """Each row's window, text and augmentation come from a generator keyed by (seed, epoch, recording): the same
    in one process and in two DataLoader workers (so a resumed or parallel stream draws what a plain one would),
    new in the next epoch."""
    from mulan_hf.data.augment import AudioAugmentation

    stream = build_training_stream(
        str(corpus_dir), [TextSource("short", ["short_form"])], window_seconds=1.0, augmentation=AudioAugmentation()
    )

    def draws(workers: int) -> dict[str, tuple[str, bytes]]:
        loader = torch.utils.data.DataLoader(stream, batch_size=None, num_workers=workers)
        return {e["recording"]: (e["text"], np.asarray(e["audio"])) for e in loader}

    set_stream_epoch(stream, 0)
    plain = draws(0)
    parallel = draws(2)
    assert parallel.keys() == plain.keys() and len(plain) >= 20
    for recording, (text, audio) in plain.items():  # same draws (float rounding: 1 vs 2 torch threads)
        assert parallel[recording][0] == text and np.allclose(parallel[recording][1], audio, atol=1e-5)
    set_stream_epoch(stream, 1)
    later = draws(0)
    assert later.keys() == plain.keys()
    changed = sum(not np.allclose(later[r][1], plain[r][1], atol=1e-3) for r in plain)
    assert changed >= 0.9 * len(plain)  # new windows and augmentations


def test_examples_carry_their_recording_id(corpus_dir):
    """The loss masks windows of the same recording: each example names the recording it was cut from."""
    only_ids = [TextSource("id", ["recording_id"]), TextSource("style", ["style"])]
    stream = build_training_stream(str(corpus_dir), only_ids, window_seconds=None, shuffle_buffer=10)
    stream.set_epoch(0)
    examples = list(stream)
    by_id = [e for e in examples if e["source"] == "id"]
    assert by_id and all(e["recording"] == e["text"] for e in by_id)
    assert {e["recording"] for e in examples if e["source"] == "style"} == {e["text"] for e in by_id}


def test_collator_batches_with_dataloader_workers(corpus_dir, tokenizer):
    processor = MuLanProcessor(MuLanFeatureExtractor(num_mel_bins=32, window_frames=200), tokenizer)
    stream = build_training_stream(str(corpus_dir), window_seconds=2.0, seed=1)
    loader = torch.utils.data.DataLoader(stream, batch_size=8, collate_fn=MuLanCollator(processor), num_workers=2)
    batches = [batch for _, batch in zip(range(6), loader)]
    assert len(batches) == 6
    for batch in batches:
        assert batch["input_features"].shape == (8, 1, 200, 32)
        assert batch["window_mask"].tolist() == [[1]] * 8
        assert batch["input_ids"].shape[0] == 8 and batch["input_ids"].shape[1] <= 64
        assert set(batch["sources"]) <= {"short_form", "long_form", "playlist", "ontology"}
        assert set(batch["skipped"]) == {"undecodable", "too_short", "no_text"}
        assert len(batch["recordings"]) == 8 and all(r.startswith("rec-") for r in batch["recordings"])
    assert torch.isfinite(torch.cat([b["input_features"] for b in batches])).all()


@pytest.mark.parametrize(
    "text, kind, twin",
    [
        ("A slow piece in a minor key.", "mode", "A slow piece in a major key."),
        ("A slow piece in a minor key.", "tempo", "A fast piece in a minor key."),
        ("Bright major moods", "mode", "Bright minor moods"),
        ("Fast tempo, major mode, with piano.", "tempo", "Slow tempo, major mode, with piano."),
        ("The majority of fastidious fans", "mode", None),  # whole words only
        ("rock drums", "tempo", None),
    ],
)
def test_counterfactual_texts_swap_only_the_named_attribute(text, kind, twin):
    assert counterfactual_text(text, kind) == twin


def test_moderate_turns_slow_or_fast_stably_and_unknown_kinds_are_refused():
    twins = {counterfactual_text(f"moderate {style}", "tempo") for style in ("jazz", "rock", "folk", "waltz", "funk")}
    assert twins <= {
        f"{tempo} {style}" for tempo in ("slow", "fast") for style in ("jazz", "rock", "folk", "waltz", "funk")
    }
    assert {t.split()[0] for t in twins} == {"slow", "fast"}
    assert counterfactual_text("moderate jazz", "tempo") == counterfactual_text("moderate jazz", "tempo")
    with pytest.raises(ValueError, match=r"\['key'\]; known: \['mode', 'tempo'\]"):
        MuLanCollator(None, text_negatives=["key"])


def test_collator_appends_each_texts_twins_with_a_mask(tokenizer):
    processor = MuLanProcessor(MuLanFeatureExtractor(num_mel_bins=32, window_frames=100), tokenizer)
    examples = [
        {"text": text, "audio": np.zeros(16000, np.float32), "source": "short_form", "recording": f"rec-{i}"}
        | {f"skipped_{reason}": 0 for reason in ("undecodable", "too_short", "no_text")}
        for i, text in enumerate(["slow rock in a minor key", "piano", "fast"])
    ]
    batch = MuLanCollator(processor, text_negatives=["mode", "tempo"])(examples)
    assert batch["input_features"].shape[0] == 3 and batch["input_ids"].shape[0] == 3 + 2 * 3
    assert batch["negative_mask"].tolist() == [True, False, False, True, False, True]
    decoded = tokenizer.batch_decode(batch["input_ids"][3:], skip_special_tokens=True)
    assert decoded == ["slow rock in a major key", "", "", "fast rock in a minor key", "", "slow"]
    assert batch["negative_group"].shape == (6,) and batch["negative_group"][1] == batch["negative_group"][2]


def test_collator_emits_the_duplicate_groups_as_tensors(tokenizer):
    """Equal texts (as the uncased tokenizer reads them) share a text group, windows of one recording an audio group;
    a row without a recording id is its own group."""
    processor = MuLanProcessor(MuLanFeatureExtractor(num_mel_bins=32, window_frames=100), tokenizer)
    rows = [("Rock", "rec-1"), ("rock", "rec-2"), ("piano", "rec-1"), ("jazz", ""), ("jazz ", "")]
    examples = [
        {"text": text, "audio": np.zeros(16000, np.float32), "source": "short_form", "recording": recording}
        | {f"skipped_{reason}": 0 for reason in ("undecodable", "too_short", "no_text")}
        for text, recording in rows
    ]
    batch = MuLanCollator(processor)(examples)
    text, audio = batch["text_group"].tolist(), batch["audio_group"].tolist()
    assert batch["text_group"].dtype == batch["audio_group"].dtype == torch.long
    assert text[0] == text[1] and text[3] == text[4] and len({text[0], text[2], text[3]}) == 3
    assert audio[0] == audio[2] and len({audio[0], audio[1], audio[3], audio[4]}) == 4


def make_public_layout(folder: Path, audio_column: str, text_column: str, texts: list) -> None:
    """A local folder laid out like the Hub sets (a parquet file with an Audio column and text columns)."""
    from mulan_hf.data.synthesis import render

    files = []
    for name, (parts, _) in corpus_module_pieces():
        path = folder / "audio" / f"{name}.wav"
        write_wav(path, render(parts, 3.0, SAMPLING_RATE), SAMPLING_RATE)
        files.append(str(path))
    data = Dataset.from_dict({audio_column: files, text_column: texts[: len(files)]}).cast_column(audio_column, Audio())
    (folder / "data").mkdir(parents=True, exist_ok=True)
    data.to_parquet(str(folder / "data" / "train-00000-of-00001.parquet"))


def corpus_module_pieces():
    from mulan_hf.data import example_pieces

    return list(example_pieces(3.0).items())


@pytest.mark.parametrize(
    ("audio_column", "text_column", "texts"),
    [
        (
            "path",
            "caption",
            ["A slow piano ballad.", "Rock drums.", "A violin melody.", "Brass band."],
        ),  # song-describer
        ("audio", "texts", [["piano", "slow"], ["drums"], ["violin", "strings"], ["brass", "band"]]),  # lp-music-caps
    ],
)
def test_public_dataset_layouts_work_through_arguments(tmp_path, audio_column, text_column, texts):
    make_public_layout(tmp_path, audio_column, text_column, texts)
    stream = build_training_stream(
        str(tmp_path), [TextSource("captions", [text_column])], audio_column=audio_column, window_seconds=WINDOW
    )
    examples = list(stream)
    assert len(examples) == 4
    flat = {t for group in texts for t in (group if isinstance(group, list) else [group])}
    assert all(e["text"] in flat and len(e["audio"]) == WINDOW * SAMPLING_RATE for e in examples)


def test_missing_column_is_named(corpus_dir):
    with pytest.raises(ValueError, match=r"no column\(s\) \['caption'\]"):
        build_training_stream(str(corpus_dir), [TextSource("c", ["caption"])])


# -------------------------------------------------------------------------------------------------- bad records


@pytest.fixture
def messy_folder(tmp_path, music) -> Path:
    folder = tmp_path / "messy" / "train"
    folder.mkdir(parents=True)
    rows = []
    for name in ("piano_ballad", "rock_drums", "violin_melody"):
        encode_flac(folder / f"{name}.flac", music[name])
        rows.append({"file_name": f"{name}.flac", "caption": [f"a {name.replace('_', ' ')}"]})
    (folder / "corrupt.flac").write_bytes(b"fLaC" + np.random.default_rng(0).bytes(5000))
    rows.append({"file_name": "corrupt.flac", "caption": ["broken"]})
    (folder / "empty.flac").write_bytes(b"")
    rows.append({"file_name": "empty.flac", "caption": ["nothing"]})
    encode_flac(folder / "textless.flac", music["brass_band"])
    rows.append({"file_name": "textless.flac", "caption": []})
    encode_flac(folder / "short.flac", music["brass_band"][: SAMPLING_RATE // 2])
    rows.append({"file_name": "short.flac", "caption": ["a short brass stab"]})
    with open(folder / "metadata.jsonl", "w") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in rows)
    return folder.parent


@pytest.mark.parametrize(("short_clips", "kept", "too_short"), [("pad", 4, 0), ("skip", 3, 1)])
def test_bad_records_are_skipped_counted_and_reported(messy_folder, tokenizer, short_clips, kept, too_short):
    sources = [TextSource("caption", ["caption"])]
    stream = build_training_stream(str(messy_folder), sources, window_seconds=WINDOW, short_clips=short_clips)
    processor = MuLanProcessor(MuLanFeatureExtractor(num_mel_bins=32, window_frames=200), tokenizer)
    loader = torch.utils.data.DataLoader(stream, batch_size=2, collate_fn=MuLanCollator(processor), num_workers=2)
    batches = list(loader)  # no crash
    assert sum(len(b["sources"]) for b in batches) == kept
    assert all(b["input_features"].shape[0] == len(b["sources"]) for b in batches if b["sources"])
    skipped = collections.Counter()
    for batch in batches:
        skipped.update(batch["skipped"])
    assert dict(skipped) == {"undecodable": 2, "too_short": too_short, "no_text": 1}
    if short_clips == "pad":
        short = [
            e
            for e in build_training_stream(str(messy_folder), sources, window_seconds=WINDOW)
            if e["text"] == "a short brass stab"
        ]
        assert len(short) == 1 and len(short[0]["audio"]) == WINDOW * SAMPLING_RATE
        assert np.all(np.asarray(short[0]["audio"][SAMPLING_RATE // 2 + 400 :]) == 0)


def test_bad_records_are_logged_with_their_path(messy_folder, caplog):
    from transformers.testing_utils import CaptureLogger
    from transformers.utils import logging

    from mulan_hf.data import streams

    with CaptureLogger(logging.get_logger(streams.__name__)) as captured:
        list(build_training_stream(str(messy_folder), [TextSource("caption", ["caption"])], window_seconds=WINDOW))
    assert "corrupt.flac" in captured.out and "empty.flac" in captured.out and "no_text" in captured.out


# ---------------------------------------------------------------------------------------------- text filtering


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Midnight Train (Official Video)", "Midnight Train"),
        ("#bossanova", "bossanova"),
        ("chill beats 🎧✨", "chill beats"),
        ("check https://example.com/x now", "check now"),
        ("CAT-4821", None),
        ("2016", None),
        ("HD", None),
        ("a", None),
        ("x" * 80, None),
        ("Summer Dreams [Lyrics] [HD]", "Summer Dreams"),
        ("jazz", "jazz"),
    ],
)
def test_short_form_rules(raw, clean):
    assert clean_short_form(raw) == clean


def test_labelled_set_is_balanced_hand_written_and_not_from_the_corpus():
    rows = labelled_sentences()
    labels = collections.Counter(label for _, label in rows)
    assert len(rows) >= 300 and abs(labels[0] - labels[1]) <= 0.1 * len(rows)
    sentences = {s for s, _ in rows}
    assert len(sentences) == len(rows)
    assert not sentences & set(COMMENTS)
    corpus_sentences = {s for i in range(200) for s in make_recording(i, seed=5, seconds=0.2).metadata["long_form"]}
    assert not sentences & corpus_sentences


@pytest.fixture(scope="session")
def text_classifier(tmp_path_factory) -> tuple[MusicTextClassifier, dict]:
    out = tmp_path_factory.mktemp("text-filter")
    metrics = train_music_text_classifier(out, epochs=4)
    return MusicTextClassifier.from_pretrained(out), metrics


def test_text_classifier_learns_music_descriptions(text_classifier):
    classifier, metrics = text_classifier
    assert metrics["validation_accuracy"] >= 0.9, metrics
    metadata = [make_recording(i, seed=11, seconds=0.5).metadata for i in range(40)]
    sentences = [s for m in metadata for s in m["long_form"]]
    is_comment = np.array([s in COMMENTS for s in sentences])
    kept = np.array(classifier.keep(sentences))
    assert kept[is_comment].mean() <= 0.1  # comments dropped
    assert kept[~is_comment].mean() >= 0.9  # descriptions kept


def test_filtering_a_dataset_reports_counts(text_classifier, corpus_dir):
    classifier, _ = text_classifier
    train = load_dataset("audiofolder", data_dir=str(corpus_dir), split="train")
    filtered, report = filter_text_column(train, "long_form", classifier.keep)
    total = sum(len(x) for x in train["long_form"])
    comments = sum(s in COMMENTS for x in train["long_form"] for s in x)
    assert report.kept + report.dropped == total
    assert abs(report.dropped - comments) <= 0.1 * total
    assert sum(s in COMMENTS for x in filtered["long_form"] for s in x) <= 0.1 * comments + 1
    assert len(filtered) == len(train) - report.rows_without_text
    assert "kept" in str(report)


def test_a_source_can_be_filtered_by_the_classifier(text_classifier, corpus_dir):
    classifier, _ = text_classifier
    sources = [TextSource("long_form", ["long_form"], keep=classifier.keep)]
    texts = [e["text"] for e in build_training_stream(str(corpus_dir), sources, window_seconds=None)]
    assert texts and sum(t in COMMENTS for t in texts) <= 1


def test_cleaning_a_short_form_column_reports_what_it_dropped():
    from mulan_hf.data import clean_short_form_column

    rows = Dataset.from_dict({"tags": [["rock", "CAT-1234", "#indie"], ["2016", "HD"], ["Summer (Official Video)"]]})
    cleaned, report = clean_short_form_column(rows, "tags")
    assert cleaned["tags"] == [["rock", "indie"], ["Summer"]]
    assert (report.kept, report.dropped, report.rows_without_text) == (3, 3, 1)


def test_tag_columns_reach_the_collator_as_targets_over_the_vocabulary(corpus_dir, tokenizer):
    """With `tag_columns` every example carries its row's tags; the collator puts the vocabulary's label texts after
    the captions and their counterfactual twins, column by column, and marks each example's tags among them
    (unknown tags ignored)."""
    rows = [json.loads(line) for line in (corpus_dir / "train" / "metadata.jsonl").read_text().splitlines()]
    tags = {row["recording_id"]: [*row["instruments"], row["mode"]] for row in rows}
    stream = build_training_stream(
        str(corpus_dir), window_seconds=None, shuffle_buffer=10, tag_columns=["instruments", "mode"]
    )
    examples = list(itertools.islice(stream, 12))
    assert all(e["tags"] == tags[e["recording"]] for e in examples)
    with pytest.raises(ValueError, match="no column"):
        list(build_training_stream(str(corpus_dir), window_seconds=None, tag_columns=["nope"]))

    processor = MuLanProcessor(MuLanFeatureExtractor(num_mel_bins=32, window_frames=100), tokenizer)
    vocabulary = {"instruments": ["piano", "drums", "bass"], "mode": ["major", "minor"]}
    pairs = [("a slow piano piece", ["piano", "harp", "minor"]), ("drums and bass", ["bass", "drums", "major"])]
    examples = [
        {"text": text, "audio": np.zeros(16000, np.float32), "source": "short_form", "recording": f"r{i}", "tags": tags}
        | {f"skipped_{reason}": 0 for reason in ("undecodable", "too_short", "no_text")}
        for i, (text, tags) in enumerate(pairs)
    ]
    batch = MuLanCollator(processor, text_negatives=["tempo"], tag_vocabulary=vocabulary)(examples)
    assert batch["input_ids"].shape[0] == 2 + 2 + 5  # captions, tempo twins, labels
    labels = tokenizer.batch_decode(batch["input_ids"][-5:], skip_special_tokens=True)
    assert labels == ["piano", "drums", "bass", "major", "minor"]
    assert batch["tag_targets"].tolist() == [[1, 0, 0, 0, 1], [0, 1, 1, 1, 0]]
    assert batch["tag_spans"].tolist() == [3, 2]
    assert batch["negative_group"].shape == batch["negative_mask"].shape == (2,)


def test_the_stream_gives_each_window_the_profile_the_extractor_gives_it_in_the_whole_recording(corpus_dir, tokenizer):
    """A training stream built with a `pitch_class_seconds` feature extractor decodes one window but carries the
    profile that window gets when the whole recording is featurised (here: the recording, shorter than the
    context), and the collator hands the model that profile instead of the window's own."""
    extractor = MuLanFeatureExtractor(
        num_mel_bins=32, window_frames=100, pitch_class_profile=True, pitch_class_seconds=30.0
    )
    stream = build_training_stream(
        str(corpus_dir), window_seconds=WINDOW, shuffle_buffer=10, feature_extractor=extractor
    )
    examples = list(itertools.islice(stream, 4))
    rows = [json.loads(line) for line in (corpus_dir / "train" / "metadata.jsonl").read_text().splitlines()]
    files = {row["recording_id"]: corpus_dir / "train" / row["file_name"] for row in rows}
    for example in examples:
        whole = decode_audio(str(files[example["recording"]]), SAMPLING_RATE)
        expected = extractor([whole], sampling_rate=SAMPLING_RATE)["pitch_class_profile"][0, 0]
        np.testing.assert_allclose(example["pitch_class_profile"], expected, rtol=1e-4, atol=1e-4)
    batch = MuLanCollator(MuLanProcessor(extractor, tokenizer))(examples)
    own = extractor([np.asarray(e["audio"]) for e in examples], sampling_rate=SAMPLING_RATE, windows="first")
    assert batch["pitch_class_profile"].shape == (4, 1, 12)
    np.testing.assert_allclose(batch["pitch_class_profile"][:, 0], [e["pitch_class_profile"] for e in examples])
    assert not np.allclose(batch["pitch_class_profile"].numpy(), own["pitch_class_profile"], atol=1e-2)
    # Without the context the examples carry no profile and the window's own reaches the model.
    plain = list(itertools.islice(build_training_stream(str(corpus_dir), window_seconds=WINDOW), 2))
    assert all(e["pitch_class_profile"] == [] for e in plain)


class CountingProfile:
    """A feature extractor's pitch-class side whose profile calls are counted across DataLoader worker processes."""

    def __init__(self, extractor: MuLanFeatureExtractor):
        import multiprocessing

        self.pitch_class_seconds = extractor.pitch_class_seconds
        self.extractor = extractor
        self.calls = multiprocessing.get_context("fork").Value("i", 0)

    def clip_pitch_class_profile(self, context: np.ndarray) -> np.ndarray:
        with self.calls.get_lock():
            self.calls.value += 1
        return self.extractor.clip_pitch_class_profile(context)


def test_the_next_epochs_workers_know_the_contexts_the_training_process_was_sent(corpus_dir, tokenizer):
    """Each epoch starts new DataLoader workers as copies of the training process. Once the training loop keeps
    the batches' profiles (`remember_pitch_class_profiles`, as examples/train.py does), the next epoch's workers
    compute none of them again: they decode only their windows, and the profiles are the same."""
    streams._PROFILES.clear()
    extractor = MuLanFeatureExtractor(
        num_mel_bins=32, window_frames=100, pitch_class_profile=True, pitch_class_seconds=30
    )
    counting = CountingProfile(extractor)
    stream = build_training_stream(
        str(corpus_dir), sources=[TextSource("short_form", ["short_form"])], window_seconds=WINDOW,
        shuffle_buffer=10, feature_extractor=counting,
    )  # fmt: skip
    collator = MuLanCollator(MuLanProcessor(extractor, tokenizer))
    loader = torch.utils.data.DataLoader(stream, batch_size=4, collate_fn=collator, num_workers=2)
    first_epoch = {}
    for batch in loader:
        remember_pitch_class_profiles(batch["pitch_class_keys"], batch["pitch_class_profile"][:, 0])
        first_epoch.update(zip(batch["recordings"], batch["pitch_class_profile"][:, 0].tolist()))
    assert counting.calls.value == len(first_epoch) == 24  # the training split, once each
    set_stream_epoch(stream, 1)
    second_epoch = {}
    for batch in loader:
        second_epoch.update(zip(batch["recordings"], batch["pitch_class_profile"][:, 0].tolist()))
    assert counting.calls.value == 24 and second_epoch.keys() == first_epoch.keys()
    for recording, profile in second_epoch.items():
        np.testing.assert_allclose(profile, first_epoch[recording], rtol=1e-6)
