"""The four evaluations, their metrics, the dataset loaders, the embedding cache, the FAISS index and reports."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import SAMPLING_RATE, make_tiny_model
from datasets import Audio, Dataset, load_dataset
from sklearn.metrics import average_precision_score, roc_auc_score

from mulan_hf import MuLanModel, MuLanProcessor
from mulan_hf.data import make_corpus, write_wav
from mulan_hf.evaluation import (
    TaggingSet,
    build_faiss_index,
    embed_audio,
    embed_texts,
    linear_probe,
    load_audioset,
    load_corpus_tagging,
    load_magnatagatune,
    load_tagging_dataset,
    ontology_triplets,
    retrieval_metrics,
    search,
    tagging_metrics,
    text_to_music_retrieval,
    text_triplets,
    triplet_accuracy,
    write_report,
    zero_shot_tagging,
)


@pytest.fixture(scope="module")
def eval_corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("eval-corpus")
    make_corpus(out, num_recordings=60, seed=3, seconds=3.0, workers=1, progress=False)
    return out


@pytest.fixture(scope="module")
def model(tokenizer):
    return make_tiny_model(tokenizer, seed=5)


# ------------------------------------------------------------------------------------------------------- metrics


def test_tagging_metrics_match_hand_computed_values():
    targets = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    scores = np.array([[0.9, 0.2], [0.1, 0.8], [0.4, 0.7], [0.5, 0.1]])
    result = tagging_metrics(targets, scores, ["rock", "jazz"])
    # rock: positives 0.9, 0.4 vs negatives 0.1, 0.5 -> 3 of 4 pairs ordered; AP = (1/1 + 2/3) / 2
    assert result.per_label["rock"]["roc_auc"] == pytest.approx(0.75)
    assert result.per_label["rock"]["average_precision"] == pytest.approx((1 + 2 / 3) / 2)
    assert result.per_label["jazz"]["roc_auc"] == pytest.approx(1.0)
    assert result.macro_roc_auc == pytest.approx((0.75 + 1.0) / 2)


def test_tagging_metrics_agree_with_sklearn_and_name_unscorable_labels():
    rng = np.random.default_rng(0)
    targets = (rng.random((200, 6)) < 0.3).astype(int)
    targets[:, 4] = 0  # no positive clip
    targets[:, 5] = 1  # no negative clip
    scores = rng.random((200, 6)) + targets
    result = tagging_metrics(targets, scores, list("abcdef"))
    assert result.left_out == {"e": "no positive clip", "f": "no negative clip"}
    expected = np.mean([roc_auc_score(targets[:, j], scores[:, j]) for j in range(4)])
    assert result.macro_roc_auc == pytest.approx(expected)
    expected_ap = np.mean([average_precision_score(targets[:, j], scores[:, j]) for j in range(4)])
    assert result.macro_average_precision == pytest.approx(expected_ap)


def test_random_scores_give_half_and_an_oracle_gives_one():
    rng = np.random.default_rng(1)
    targets = (rng.random((2000, 10)) < 0.2).astype(int)
    assert tagging_metrics(targets, rng.random((2000, 10)), list("abcdefghij")).macro_roc_auc == pytest.approx(
        0.5, abs=0.03
    )
    oracle = tagging_metrics(targets, targets + 0.01 * rng.random((2000, 10)), list("abcdefghij"))
    assert oracle.macro_roc_auc == 1.0 and oracle.macro_average_precision == 1.0


def test_retrieval_metrics_match_hand_computed_values():
    scores = np.array([[0.9, 0.8, 0.1, 0.2], [0.1, 0.9, 0.8, 0.7]])
    result = retrieval_metrics(scores, [{1}, {3}], ["q1", "q2"])
    assert [q["first_relevant_rank"] for q in result.per_query] == [2, 3]
    assert result.recall_at == {1: 0.0, 5: 1.0, 10: 1.0}
    assert result.median_rank == 2.5
    assert result.per_query[0]["roc_auc"] == pytest.approx(2 / 3)  # above 2 of the 3 irrelevant clips
    assert result.mean_average_precision == pytest.approx((1 / 2 + 1 / 3) / 2)
    with pytest.raises(ValueError, match="cannot be scored"):
        retrieval_metrics(scores, [set(), {1}])


def test_triplet_accuracy():
    anchor = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    positive = np.array([[2.0, 0.1], [0.0, 3.0], [-1.0, 0.0]])
    negative = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.1]])
    assert triplet_accuracy(anchor, positive, negative) == pytest.approx(2 / 3)


# ------------------------------------------------------------------------------------------------- the model runs


def test_zero_shot_tagging_on_the_corpus(model, processor, eval_corpus, tmp_path):
    sets = load_corpus_tagging(eval_corpus, ("instruments", "tempo"), split="train")
    report = zero_shot_tagging(model, processor, sets["instruments"], progress=False)
    assert report.metrics["clips"] == 48
    assert 0.25 < report.metrics["macro_roc_auc"] < 0.75  # an untrained model is near chance
    assert set(report.metrics["per_label"]) | set(report.metrics["left_out"]) == set(sets["instruments"].label_names)
    ensemble = zero_shot_tagging(model, processor, sets["tempo"], templates=("{}", "{} music"), progress=False)
    assert ensemble.metrics["templates"] == ["{}", "{} music"]
    path = write_report([report, ensemble], tmp_path)
    markdown = path.read_text()
    assert "macro ROC-AUC" in markdown and "| label | ROC-AUC | AP | positives |" in markdown
    pngs = list(tmp_path.glob("*.png"))
    assert len(pngs) == 6 and all(p.stat().st_size > 5000 for p in pngs)
    saved = json.loads((tmp_path / "evaluation.json").read_text())
    assert saved[0]["metrics"]["macro_roc_auc"] == pytest.approx(report.metrics["macro_roc_auc"])


def test_template_ensemble_averages_in_embedding_space(model, tokenizer):
    labels = ["piano", "drums"]
    plain = embed_texts(model, tokenizer, labels, ("{}",))
    music = embed_texts(model, tokenizer, labels, ("{} music",))
    both = embed_texts(model, tokenizer, labels, ("{}", "{} music"))
    mean = (plain + music) / 2
    np.testing.assert_allclose(both, mean / np.linalg.norm(mean, axis=1, keepdims=True), atol=1e-6)


def test_embeddings_do_not_depend_on_batch_size(model, feature_extractor, music, tmp_path):
    paths = []
    for i, (name, audio) in enumerate(music.items()):
        paths.append(str(write_wav(tmp_path / f"{name}.wav", audio[: (i + 1) * SAMPLING_RATE], SAMPLING_RATE)))
    dataset = Dataset.from_dict({"audio": paths * 3}).cast_column("audio", Audio())
    one = embed_audio(model, feature_extractor, dataset, batch_size=1, progress=False)
    many = embed_audio(model, feature_extractor, dataset, batch_size=32, progress=False)
    np.testing.assert_allclose(one.embeddings, many.embeddings, atol=1e-5)
    assert one.rows == many.rows == list(range(12))


def test_embedding_cache_and_faiss_index(model, feature_extractor, eval_corpus, tmp_path):
    test = load_dataset("audiofolder", data_dir=str(eval_corpus), split="test")
    first = embed_audio(
        model, feature_extractor, test, keep_columns=("recording_id",), cache_dir=tmp_path, progress=False
    )
    cached = list(tmp_path.glob("audio-embeddings-*"))
    assert len(cached) == 1
    for row in test.cast_column("audio", Audio(decode=False)):
        Path(row["audio"]["path"]).rename(row["audio"]["path"] + ".moved")  # the cache must not need the audio
    try:
        again = embed_audio(
            model, feature_extractor, test, keep_columns=("recording_id",), cache_dir=tmp_path, progress=False
        )
    finally:
        for path in Path(eval_corpus, "test").glob("*.moved"):
            path.rename(str(path)[: -len(".moved")])
    np.testing.assert_array_equal(first.embeddings, again.embeddings)
    with torch.no_grad():
        model.audio_projection.bias += 0.01  # a changed model gets its own cache entry
    try:
        embed_audio(model, feature_extractor, test, cache_dir=tmp_path, progress=False)
    finally:
        with torch.no_grad():
            model.audio_projection.bias -= 0.01
    assert len(list(tmp_path.glob("audio-embeddings-*"))) == 2

    index = build_faiss_index(first)
    hits = search(index, first.embeddings[2], k=3)
    assert hits[0]["row"] == first.rows[2] and hits[0]["score"] == pytest.approx(1.0, abs=1e-5)
    assert hits[0]["recording_id"] == test[first.rows[2]]["recording_id"]
    assert hits[0]["score"] >= hits[1]["score"] >= hits[2]["score"]


def test_linear_probe_selects_c_on_validation(model, processor, eval_corpus):
    train = load_dataset("audiofolder", data_dir=str(eval_corpus), split="train")
    sets = [
        load_tagging_dataset(
            train.select(range(a, b)), "tempo", label_names=["slow", "moderate", "fast"], name=f"tempo-{a}"
        )
        for a, b in ((0, 24), (24, 36), (36, 48))
    ]
    report = linear_probe(model, processor, *sets, regularisation=(0.1, 10.0), progress=False)
    assert report.metrics["chosen_C"] in (0.1, 10.0)
    assert set(report.metrics["validation_roc_auc_by_C"]) == {"0.1", "10.0"}
    assert 0.0 <= report.metrics["macro_roc_auc"] <= 1.0
    again = linear_probe(model, processor, *sets, regularisation=(0.1, 10.0), progress=False)
    assert again.metrics["macro_roc_auc"] == report.metrics["macro_roc_auc"]  # deterministic


def test_retrieval_with_captions(model, processor, eval_corpus):
    from mulan_hf.evaluation import load_captions

    dataset, queries, relevant = load_captions(str(eval_corpus), "long_form", split="train")
    report = text_to_music_retrieval(model, processor, dataset, queries, relevant, progress=False)
    assert report.metrics["queries"] == len(queries) > 48
    assert set(report.metrics["recall_at"]) == {"1", "5", "10"}
    assert 1 <= report.metrics["median_rank"] <= 48


# ------------------------------------------------------------------------------------------------------- loaders


def encode(path: Path, audio: np.ndarray) -> str:
    from torchcodec.encoders import AudioEncoder

    path.parent.mkdir(parents=True, exist_ok=True)
    AudioEncoder(torch.from_numpy(audio).unsqueeze(0), sample_rate=SAMPLING_RATE).to_file(str(path))
    return str(path)


def test_magnatagatune_layout(tmp_path, music, model, processor):
    tags = ["guitar", "classical", "slow", "techno", "no piano"]
    rows = []
    for i, folder in enumerate("0c" + "d" * 4):
        audio = list(music.values())[i % 4][: 2 * SAMPLING_RATE]
        mp3 = f"{folder}/artist-album-{i:02d}-track.mp3"
        encode(tmp_path / mp3, audio)
        flags = [int((i + j) % 3 == 0) for j in range(len(tags))]
        rows.append("\t".join([str(i), *map(str, flags), mp3]))
    header = "\t".join(["clip_id", *tags, "mp3_path"])
    (tmp_path / "annotations_final.csv").write_text("\n".join([header, *rows]) + "\n")
    test = load_magnatagatune(tmp_path, "top50", "test")
    assert len(test.dataset) == 4 and all("/d/" in p["path"] for p in test.dataset["audio"])
    assert sorted(test.label_names) == sorted(tags)  # fewer than 50 tags: all of them, most frequent first
    assert load_magnatagatune(tmp_path, "all188", "validation").targets.tolist() == [[0, 0, 1, 0, 0]]
    report = zero_shot_tagging(model, processor, test, progress=False)
    assert report.metrics["clips"] == 4
    with pytest.raises(FileNotFoundError, match="annotations_final.csv"):
        load_magnatagatune(tmp_path / "nowhere")


ONTOLOGY = [
    {"id": "/m/04rlf", "name": "Music", "description": "Music", "child_ids": ["/m/04szw", "/m/0kpv1t"]},
    {
        "id": "/m/04szw",
        "name": "Musical instrument",
        "description": "Sounds of instruments.",
        "child_ids": ["/m/05r5c", "/m/0342h"],
    },
    {
        "id": "/m/05r5c",
        "name": "Piano",
        "description": "A keyboard instrument whose strings are struck by hammers.",
        "child_ids": [],
    },
    {
        "id": "/m/0342h",
        "name": "Guitar",
        "description": "A fretted string instrument that is plucked or strummed.",
        "child_ids": [],
    },
    {
        "id": "/m/0kpv1t",
        "name": "Music genre",
        "description": "Styles of music.",
        "child_ids": ["/m/06by7", "/m/03_d0"],
    },
    {
        "id": "/m/06by7",
        "name": "Rock music",
        "description": "Loud guitars, bass and drums with a strong backbeat.",
        "child_ids": [],
    },
    {"id": "/m/03_d0", "name": "Jazz", "description": "Swing rhythms, improvisation and blue notes.", "child_ids": []},
    {"id": "/m/09x0r", "name": "Speech", "description": "Human talk.", "child_ids": []},
]


def test_audioset_layout_with_a_missing_file(tmp_path, music, model, processor):
    (tmp_path / "ontology.json").write_text(json.dumps(ONTOLOGY))
    segments = [
        "# Segments csv created Sun Mar  5 10:54:31 2017",
        "# YTID, start_seconds, end_seconds, positive_labels",
        'aaa, 30.000, 40.000, "/m/04rlf,/m/05r5c"',
        'bbb, 10.000, 20.000, "/m/04rlf,/m/0342h,/m/06by7"',
        'ccc, 0.000, 10.000, "/m/03_d0,/m/05r5c"',
        'ddd, 0.000, 10.000, "/m/09x0r"',
        'eee, 0.000, 10.000, "/m/06by7"',
    ]
    (tmp_path / "segments.csv").write_text("\n".join(segments) + "\n")
    audio = tmp_path / "audio"
    encode(audio / "aaa_30.flac", music["piano_ballad"])
    encode(audio / "bbb.flac", music["rock_drums"])
    encode(audio / "ccc_0.flac", music["violin_melody"])
    music_set = load_audioset(tmp_path / "segments.csv", tmp_path / "ontology.json", audio, "music")
    assert music_set.label_names == ["Musical instrument", "Piano", "Guitar", "Music genre", "Rock music", "Jazz"]
    assert len(music_set.dataset) == 4  # "ddd" is speech only
    genres = load_audioset(tmp_path / "segments.csv", tmp_path / "ontology.json", audio, "genres")
    assert genres.label_names == ["Rock music", "Jazz"] and genres.targets.tolist() == [[1, 0], [0, 1], [1, 0]]
    report = zero_shot_tagging(model, processor, music_set, progress=False)
    assert list(report.failed) == [3] and "eee" in report.failed[3]  # the missing file is listed, not fatal
    assert "Musical instrument" in report.metrics["left_out"] and "Music genre" in report.metrics["left_out"]
    markdown = write_report([report], tmp_path / "report").read_text()
    assert "could not be decoded" in markdown and "eee" in markdown and "no positive clip" in markdown


def test_text_triplets_against_the_minilm_baseline(tmp_path, model, tokenizer):
    (tmp_path / "ontology.json").write_text(json.dumps(ONTOLOGY))
    triplets = ontology_triplets(tmp_path / "ontology.json", negatives=2, seed=0)
    assert len(triplets) == 12 and all(a != p and p != n for a, p, n in triplets)
    report = text_triplets(model, tokenizer, triplets)
    assert report.metrics["baseline_accuracy"] >= 0.75  # a real sentence encoder links names to descriptions
    assert 0.0 <= report.metrics["accuracy"] <= 1.0


def test_hugging_face_tags_dataset_and_bad_input(tmp_path, music, model, processor):
    paths = [encode(tmp_path / f"{n}.flac", a[:SAMPLING_RATE]) for n, a in music.items()]
    (tmp_path / "corrupt.flac").write_bytes(b"not audio at all")
    data = Dataset.from_dict(
        {
            "audio": paths + [str(tmp_path / "corrupt.flac")],
            "tags": [["piano"], ["drums"], ["violin"], ["brass"], ["x"]],
        }
    ).cast_column("audio", Audio())
    tagging = load_tagging_dataset(data, "tags", label_names=["piano", "drums", "violin", "brass", "organ"])
    report = zero_shot_tagging(model, processor, tagging, progress=False)
    assert list(report.failed) == [4] and report.metrics["left_out"] == {"organ": "no positive clip"}
    with pytest.raises(ValueError, match="no column 'genre'"):
        load_tagging_dataset(data, "genre")
    with pytest.raises(ValueError, match="empty"):
        TaggingSet(tagging.dataset, [], np.zeros((5, 0)))
    with pytest.raises(ValueError, match=r"duplicates: \['piano'\]"):
        load_tagging_dataset(data, "tags", label_names=["piano", "piano"])
    with pytest.raises(ValueError, match="no column 'sound'"):
        embed_audio(model, processor.feature_extractor, data, audio_column="sound")


def test_evaluate_and_search_commands(tmp_path, eval_corpus, saved_model_dir):
    script = Path(sys.executable).parent / "mulan-hf"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "mulan_hf.cli"]
    result = subprocess.run(
        [
            *command,
            "evaluate",
            "--model",
            saved_model_dir,
            "--corpus",
            str(eval_corpus),
            "--split",
            "train",
            "--corpus-labels",
            "instruments,mode",
            "--out",
            str(tmp_path / "report"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "corpus-instruments" in result.stdout and "R@10" in result.stdout
    assert (tmp_path / "report" / "evaluation.md").is_file()
    found = subprocess.run(
        [*command, "search", "calm piano", "--model", saved_model_dir, "--corpus", str(eval_corpus), "-k", "3"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert found.returncode == 0, found.stderr[-3000:]
    assert len([line for line in found.stdout.splitlines() if "rec-" in line]) == 3


# --------------------------------------------------------------------------------------------------- calibration


def test_platt_maps_follow_the_cosine_and_match_the_base_rate(tmp_path, eval_corpus, saved_model_dir):
    """`mulan-hf calibrate` on the corpus's validation split: one map per label with enough positives and negatives,
    a shared one for other texts; on the pairs it was fitted on, a logistic map's mean probability is the base rate
    (calibration in the large), and the probabilities rise with the cosine wherever the fit found them to."""
    import shutil

    from mulan_hf.cli import main
    from mulan_hf.evaluation.calibration import (
        _label_targets,
        calibrated_probabilities,
        expected_calibration_error,
    )
    from mulan_hf.evaluation.corpus import load_corpus_split

    folder = tmp_path / "model"
    shutil.copytree(saved_model_dir, folder)
    assert main(["calibrate", "--model-dir", str(folder), "--corpus", str(eval_corpus), "--splits", "train"]) == 0
    calibration = json.loads((folder / "calibration.json").read_text())
    assert calibration["labels"] and set(calibration["shared"]) == {"slope", "intercept", "positives"}
    assert "48 clips" in calibration["fitted_on"]  # 8 in 10 of the 60 recordings are train
    names, targets = _label_targets(load_corpus_split(eval_corpus, "train"), ("instruments", "tempo", "mode", "style"))
    for label, fitted in calibration["labels"].items():
        assert 2 <= fitted["positives"] <= len(targets) - 2 and label in names
    model, processor = MuLanModel.from_pretrained(folder).eval(), MuLanProcessor.from_pretrained(folder)
    audio = embed_audio(model, processor.feature_extractor, load_corpus_split(eval_corpus, "train"), progress=False)
    cosines = audio.embeddings @ embed_texts(model, processor.tokenizer, names).T
    probabilities = calibrated_probabilities(calibration, names, cosines)
    assert probabilities.shape == targets.shape and ((probabilities > 0) & (probabilities < 1)).all()
    for j, name in enumerate(names):
        if name in calibration["labels"]:
            assert probabilities[:, j].mean() == pytest.approx(targets[:, j].mean(), abs=0.02), name
            slope = calibration["labels"][name]["slope"]
            order = np.argsort(cosines[:, j])
            assert np.all(np.diff(probabilities[order, j]) * np.sign(slope) >= -1e-12)
    unknown = calibrated_probabilities(calibration, ["a label nobody trained"], np.array([[0.3]]))[0, 0]
    shared = calibration["shared"]
    assert unknown == pytest.approx(1 / (1 + np.exp(-(0.3 * shared["slope"] + shared["intercept"]))))
    assert expected_calibration_error(probabilities, targets) < 0.1
    assert expected_calibration_error(np.array([0.9, 0.9]), np.array([0, 0])) == pytest.approx(0.9)


def test_calibrate_refuses_a_folder_without_a_corpus(tmp_path, saved_model_dir, capsys):
    from mulan_hf.cli import main

    assert main(["calibrate", "--model-dir", saved_model_dir, "--corpus", str(tmp_path)]) == 2
    assert "error:" in capsys.readouterr().err
