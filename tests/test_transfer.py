"""What the default recipe needs to learn music rather than one SoundFont: several independent sample sets in the
corpus (recorded per recording), per-window audio augmentation, texts naming tempo and mode, holding a sample set
out of training, and the figures that report it (top-1 beside ROC-AUC, over the 13 plain instrument names)."""

import collections
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import SAMPLING_RATE
from datasets import load_dataset

from mulan_hf.data.augment import AudioAugmentation
from mulan_hf.data.corpus import make_corpus, make_recording
from mulan_hf.data.music import PieceGenerator
from mulan_hf.data.streams import build_training_stream, default_sources
from mulan_hf.data.synthesis import SAMPLE_SETS, soundfont_path
from mulan_hf.evaluation.corpus import TRANSFER_INSTRUMENTS, transfer_instruments
from mulan_hf.evaluation.metrics import tagging_metrics

EFFECTS = ("gain", "eq", "band_limit", "reverb", "pitch", "stretch", "noise", "compression")
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def window() -> np.ndarray:
    """Two seconds of rendered music (a piece with several parts), a little longer for stretches and shifts."""
    return make_recording(2, seed=0, seconds=3.0, sample_sets=("gmbank",)).audio


@pytest.fixture(scope="module")
def mixed_corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mixed-corpus")
    make_corpus(out, num_recordings=90, seed=1, seconds=3.0, workers=1, progress=False)
    return out


# ------------------------------------------------------------------------------------------------- sample sets


def test_corpus_renders_with_three_sample_sets_and_records_which(mixed_corpus):
    rows = load_dataset("audiofolder", data_dir=str(mixed_corpus), split="train+validation+test")
    used = collections.Counter(rows["soundfont"])
    assert set(used) == set(SAMPLE_SETS) and len(used) >= 3, used
    assert min(used.values()) >= 5  # each set is really used, not once
    summary = json.loads((mixed_corpus / "corpus.json").read_text())
    assert summary["sample_sets"] == dict(used)
    assert "soundfont" in (mixed_corpus / "README.md").read_text()


def test_each_sample_set_sounds_different():
    """Same piece, three SoundFonts: the audio differs (the recording's sample set really is used)."""
    renders = {s: make_recording(5, seed=0, seconds=2.0, sample_sets=(s,)).audio for s in SAMPLE_SETS}
    for a in SAMPLE_SETS:
        for b in SAMPLE_SETS:
            if a < b:
                assert np.abs(renders[a] - renders[b]).mean() > 0.01, (a, b)
    assert all(np.isfinite(r).all() and np.abs(r).max() > 0.1 for r in renders.values())


def test_parts_vary_program_mix_and_tuning():
    parts = [p for seed in range(60) for p in PieceGenerator(seed).make(4.0)[0]]
    assert len({p.program for p in parts if not p.is_drums}) >= 25
    assert len({p.pan for p in parts}) > 20 and len({p.volume for p in parts}) > 20
    assert any(abs(p.detune) > 0.02 for p in parts)
    assert len({p.program for p in parts if p.is_drums}) >= 3  # several drum kits


def test_free_arrangements_decouple_instruments_from_styles():
    leads = collections.defaultdict(set)
    for seed in range(600):
        info = PieceGenerator(seed).make(2.0)[1]
        leads[info.style].add(info.lead)
    assert all(len(names) >= 8 for names in leads.values()), {k: len(v) for k, v in leads.items()}


def test_texts_name_tempo_and_mode_often():
    metadata = [make_recording(i, seed=4, seconds=0.5).metadata for i in range(80)]
    for column in ("short_form", "long_form", "playlist"):
        texts = [" ".join(m[column]).lower() for m in metadata]
        tempo = np.mean([m["tempo"] in t for m, t in zip(metadata, texts)])
        mode = np.mean([m["mode"] in t for m, t in zip(metadata, texts)])
        floor = 0.8 if column == "short_form" else 0.3
        assert tempo >= floor and mode >= floor, (column, tempo, mode)


def test_missing_soundfont_names_the_package(monkeypatch):
    monkeypatch.setitem(
        SAMPLE_SETS,
        "gmbank",
        SAMPLE_SETS["gmbank"].__class__(
            "gmbank", "csound's sf_GMbank", ("/nowhere.sf2",), "apt-get install csound-soundfont"
        ),
    )
    with pytest.raises(FileNotFoundError, match="apt-get install csound-soundfont"):
        soundfont_path("gmbank")
    with pytest.raises(FileNotFoundError, match="apt-get install csound-soundfont"):
        make_corpus("/tmp/never-written", num_recordings=2, sample_sets=("gmbank",), progress=False)
    with pytest.raises(FileNotFoundError, match="No SoundFont file at /missing/bank.sf2"):
        soundfont_path("/missing/bank.sf2")
    with pytest.raises(ValueError, match="Unknown sample set 'fluid'"):
        soundfont_path("fluid")


def test_fluid_r3_is_refused_for_training_data():
    for path in ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/x/MuseScore_General.sf3"):
        with pytest.raises(ValueError, match="independent evaluation"):
            soundfont_path(path)


# ------------------------------------------------------------------------------------------------ augmentation


@pytest.mark.parametrize("rate", [0.93, 1.05, 1.3])
def test_phase_vocoder_matches_torchaudios_in_double_precision(rate):
    """The time stretch's phasor phase vocoder gives torchaudio's `phase_vocoder` output (computed in float64),
    silent bins included, with the same frame count."""
    import torch
    import torchaudio.functional as F

    from mulan_hf.data.augment import phase_vocoder

    audio = torch.from_numpy(np.random.default_rng(0).standard_normal((2, 16000)).astype(np.float32))
    spectrum = torch.stft(audio, 512, 128, window=torch.hann_window(512), return_complex=True)
    spectrum[:, 3:6] = 0  # silent bins: phase 0, as torchaudio's angle() gives
    advance = torch.linspace(0, torch.pi * 128, spectrum.shape[-2], dtype=torch.float64)[..., None]
    reference = F.phase_vocoder(spectrum.to(torch.complex128), rate, advance)
    ours = phase_vocoder(spectrum, rate)
    assert ours.shape == reference.shape and ours.dtype == torch.complex64
    assert (ours.to(torch.complex128) - reference).abs().max() < 1e-4 * reference.abs().max()


@pytest.mark.parametrize("effect", EFFECTS)
def test_each_augmentation_changes_the_audio_and_keeps_shape_rate_and_finite_values(effect, window):
    only = AudioAugmentation(**{f"{name}_probability": float(name == effect) for name in EFFECTS})
    length = 2 * SAMPLING_RATE
    source = window[: int(np.ceil(length * only.max_length_factor))]
    out = only(source, SAMPLING_RATE, np.random.default_rng(3), bpm=100, length=length)
    assert out.shape == (length,) and out.dtype == np.float32
    assert np.isfinite(out).all() and np.abs(out).max() <= 1.0
    assert np.abs(out - source[:length]).mean() > 1e-3, f"{effect} left the audio unchanged"
    # The rate is kept: the spectrum's centre of mass stays within a few per cent for the pitch-free effects.
    if effect in ("gain", "stretch", "compression"):
        centroid = [
            np.sum(np.abs(np.fft.rfft(x)) * np.arange(len(x) // 2 + 1)) / np.sum(np.abs(np.fft.rfft(x)))
            for x in (source[:length], out)
        ]
        assert centroid[1] == pytest.approx(centroid[0], rel=0.25)


def test_augmentation_off_changes_nothing(window):
    out = AudioAugmentation.off()(window[:SAMPLING_RATE], SAMPLING_RATE, np.random.default_rng(0))
    np.testing.assert_array_equal(out, window[:SAMPLING_RATE])


@pytest.mark.parametrize(
    ("audio", "message"),
    [
        (np.zeros(0, np.float32), "non-empty window"),
        (np.zeros((2, 100), np.float32), "mono, non-empty window \\(samples,\\), got shape \\(2, 100\\)"),
        (np.array([0.1, np.nan, 0.2], np.float32), "NaN or Inf"),
    ],
)
def test_bad_windows_get_a_clear_error(audio, message):
    with pytest.raises(ValueError, match=message):
        AudioAugmentation()(audio, SAMPLING_RATE, np.random.default_rng(0))


def test_stretch_never_moves_a_piece_across_a_tempo_bucket():
    augment = AudioAugmentation(stretch_rate=(0.5, 2.0))
    rng = np.random.default_rng(0)
    for bpm, low, high in ((78, 0, 80), (82, 80, 115), (113, 80, 115), (140, 115, 1000)):
        for _ in range(50):
            assert low <= bpm * augment._stretch_rate(rng, bpm) < high


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"reverb": 0.5}, "Unknown augmentation settings \\['reverb'\\]; known: \\['gain_probability'"),
        ({"noise_probability": 1.5}, "noise_probability=1.5 \\(a probability between 0 and 1\\)"),
        ({"gain_db": [6, -6]}, "gain_db=\\[6, -6\\] \\(a range"),
        ({"pitch_semitones": [-5, 5]}, "within ±2"),
        ({"lowpass_hz": [0, 100]}, "lowpass_hz=\\(0, 100\\) \\(must be above 0\\)"),
        ({"reverb_wet": [0.2, 1.5]}, "reverb_wet"),
    ],
)
def test_bad_augmentation_settings_are_refused_with_the_known_ones(settings, message):
    with pytest.raises(ValueError, match=message):
        AudioAugmentation.from_dict(settings)


def test_stream_augments_windows_and_holds_a_sample_set_out(mixed_corpus):
    plain = build_training_stream(str(mixed_corpus), default_sources()[:1], window_seconds=1.0, seed=0)
    augmented = build_training_stream(
        str(mixed_corpus),
        default_sources()[:1],
        window_seconds=1.0,
        seed=0,
        augmentation=AudioAugmentation(),
        exclude={"soundfont": ["opl3"]},
    )
    rows = load_dataset("audiofolder", data_dir=str(mixed_corpus), split="train")
    opl3 = {r for r, s in zip(rows["recording_id"], rows["soundfont"]) if s == "opl3"}
    seen = list(augmented)
    assert seen and all(len(e["audio"]) == SAMPLING_RATE and np.isfinite(e["audio"]).all() for e in seen)
    assert not {e["recording"] for e in seen} & opl3
    assert len(seen) == len(rows) - len(opl3)
    by_recording = {e["recording"]: np.asarray(e["audio"]) for e in plain}
    changed = [np.abs(np.asarray(e["audio"]) - by_recording[e["recording"]]).mean() > 1e-4 for e in seen]
    assert np.mean(changed) > 0.5


def test_holding_out_an_unknown_column_is_refused(mixed_corpus):
    with pytest.raises(ValueError, match="no such column"):
        build_training_stream(str(mixed_corpus), default_sources()[:1], exclude={"renderer": ["x"]})


# ----------------------------------------------------------------------------------------------------- figures


def test_top1_accuracy_counts_clips_whose_best_label_is_true():
    targets = np.array([[1, 0, 0], [0, 1, 1], [0, 0, 1], [0, 0, 0]])
    scores = np.array([[0.9, 0.1, 0.0], [0.1, 0.2, 0.9], [0.8, 0.1, 0.3], [0.5, 0.1, 0.1]])
    result = tagging_metrics(targets, scores, ["a", "b", "c"])
    assert result.top1_accuracy == pytest.approx(2 / 3)  # the untagged clip is not counted


def test_transfer_labels_are_the_13_plain_names():
    assert len(TRANSFER_INSTRUMENTS) == 13
    assert transfer_instruments(["distorted guitar", "harp", "drums"]) == ["electric guitar", "drums"]


def test_training_flags_get_the_types_of_their_fields():
    sys.path.insert(0, str(REPO / "examples"))
    try:
        from train import parse
    finally:
        sys.path.remove(str(REPO / "examples"))
    args = parse(
        ["--cpu_threads", "2", "--window_seconds", "5.12", "--augmentation", '{"reverb_probability": 0.2}']
        + ["--holdout_sample_set", "opl3", "--hub_model_id", "me/model"]
    )
    assert args.cpu_threads == 2 and isinstance(args.cpu_threads, int)
    assert args.window_seconds == 5.12 and isinstance(args.window_seconds, float)
    assert args.augmentation == {"reverb_probability": 0.2} and args.hub_model_id == "me/model"
    with pytest.raises(ValueError, match="Unknown augmentation settings"):
        parse(["--augmentation", '{"echo": 1}'])
    with pytest.raises(ValueError, match="not among the corpus's sample_sets"):
        parse(["--holdout_sample_set", "fluidr3"])


def test_evaluate_prints_the_held_out_sample_set_beside_the_in_distribution_split(
    mixed_corpus, saved_model_dir, tmp_path, capsys
):
    from mulan_hf.cli import main

    evaluate = ["evaluate", "--model", saved_model_dir, "--corpus", str(mixed_corpus), "--holdout-sample-set"]
    assert main([*evaluate, "opl3", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "held-out sample set 'opl3'" in printed and "instruments" in printed
    figures = json.loads((tmp_path / "transfer.json").read_text())
    rows = load_dataset("audiofolder", data_dir=str(mixed_corpus), split="validation+test")
    assert figures["held_out"]["holdout-opl3/clips"] == rows["soundfont"].count("opl3")
    assert figures["in_distribution"]["test/clips"] == sum(
        s != "opl3" for s in load_dataset("audiofolder", data_dir=str(mixed_corpus), split="test")["soundfont"]
    )
    assert 0.0 <= figures["held_out"]["holdout-opl3/roc_auc/instruments"] <= 1.0
    assert main([*evaluate, "nonesuch"]) == 2
    assert "no recordings rendered with 'nonesuch'" in capsys.readouterr().err


def test_a_source_can_join_several_of_a_rows_texts(mixed_corpus):
    rows = load_dataset("audiofolder", data_dir=str(mixed_corpus), split="train")
    tags = {r: set(t) for r, t in zip(rows["recording_id"], rows["short_form"])}
    assert not any("," in t for ts in tags.values() for t in ts)
    source = default_sources()[0].__class__("short_form", ["short_form"], join=3)
    stream = build_training_stream(str(mixed_corpus), [source], window_seconds=None, seed=0)
    lengths = []
    for example in stream:
        parts = example["text"].split(", ")
        assert set(parts) <= tags[example["recording"]] and len(parts) == len(set(parts))
        lengths.append(len(parts))
    assert set(lengths) == {1, 2, 3}
    with pytest.raises(ValueError, match="join must be at least 1"):
        source.__class__("x", ["x"], join=0)
