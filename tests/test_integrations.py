"""MuLan inside researchers' harnesses: HEAR 2021's module API, checked by HEAR's own validator."""

import sys
import types
import warnings

import numpy as np
import pytest
import torch
from conftest import SAMPLING_RATE, TINY_WINDOW_FRAMES, tone

from mulan_hf import MuLanModel, MuLanProcessor
from mulan_hf.integrations import hear


@pytest.fixture
def hear_validator(monkeypatch):
    """hearvalidator's ValidateModel, the real code (installed with --no-deps by scripts/setup.sh). Its module
    imports TensorFlow at the top for its TF2 branch; TensorFlow (~600 MB) is not installed here, so an empty
    stand-in module answers that import. The torch branch that MuLan takes never touches it beyond
    `isinstance(model, tf.Module)`, which the stand-in's class answers with False."""
    stand_in = types.ModuleType("tensorflow")
    stand_in.Module = type("Module", (), {})
    monkeypatch.setitem(sys.modules, "tensorflow", stand_in)
    monkeypatch.delitem(sys.modules, "hearvalidator.validate", raising=False)
    from hearvalidator.validate import ValidateModel

    return ValidateModel


def test_hear_validator_accepts_the_module(hear_validator, saved_model_dir):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hear_validator("mulan_hf.integrations.hear", saved_model_dir, device="cpu")()
    # Seconds-long windows are far above the 50 ms HEAR suggests for transcription: it warns, and only warns.
    assert any("50ms" in str(w.message) for w in caught)


def test_hear_embeddings_are_mulans_clip_and_window_embeddings(saved_model_dir):
    model = hear.load_model(saved_model_dir)
    assert (model.sample_rate, model.scene_embedding_size, model.timestamp_embedding_size) == (SAMPLING_RATE, 128, 128)
    window = TINY_WINDOW_FRAMES * 160  # samples per window (10 ms hop)
    rng = np.random.default_rng(0)
    audio = torch.from_numpy(rng.uniform(-0.5, 0.5, (3, int(2.5 * window))).astype(np.float32))
    audio[1, window : 2 * window] = torch.from_numpy(0.5 * tone(440.0, window / SAMPLING_RATE))  # unlike its neighbours
    frames, times = hear.get_timestamp_embeddings(audio, model)
    assert frames.shape == (3, 3, 128) and frames.dtype == torch.float32 and times.shape == (3, 3)
    window_ms = 1000 * window / SAMPLING_RATE
    torch.testing.assert_close(times[0], torch.tensor([0.5, 1.5, 2.5]) * window_ms)
    torch.testing.assert_close(frames.norm(dim=-1), torch.ones(3, 3))
    # Each window's embedding is what the model gives that stretch of audio alone (up to the STFT frames at its
    # edges, which in the whole clip also see the neighbouring windows' samples).
    mulan, processor = MuLanModel.from_pretrained(saved_model_dir), MuLanProcessor.from_pretrained(saved_model_dir)
    second = processor(audio=[audio[1, window : 2 * window].numpy()], sampling_rate=SAMPLING_RATE, return_tensors="pt")
    with torch.no_grad():
        alone = mulan.get_audio_features(**second).pooler_output[0]
    similarity = frames[1] @ alone
    assert similarity[1] > 0.999 and similarity[1] > similarity[0] and similarity[1] > similarity[2], similarity
    scene = hear.get_scene_embeddings(audio, model)
    assert scene.shape == (3, 128) and scene.dtype == torch.float32
    mean = torch.nn.functional.normalize(frames.mean(dim=1), dim=-1)  # the clip embedding: windows averaged
    torch.testing.assert_close(scene, mean, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: hear.get_scene_embeddings(torch.zeros(16000), m), r"\(n_sounds, n_samples\) tensor"),
        (lambda m: hear.get_scene_embeddings(torch.full((1, 16000), float("nan")), m), "NaN or Inf"),
        (lambda m: hear.load_model(""), "needs a MuLan checkpoint"),
    ],
)
def test_hear_bad_input_is_refused_clearly(saved_model_dir, call, message):
    model = hear.load_model(saved_model_dir)
    with pytest.raises(ValueError, match=message):
        call(model)


def test_a_clips_embedding_is_the_same_alone_in_a_mixed_batch_and_after_a_reload(saved_model_dir, tmp_path):
    """Peers' users ask for this (LAION-CLAP, msclap issues): batch-mates of other lengths (padding windows) and a
    save / reload do not move a clip's embedding beyond float rounding."""
    model = MuLanModel.from_pretrained(saved_model_dir).eval()
    processor = MuLanProcessor.from_pretrained(saved_model_dir)
    rng = np.random.default_rng(3)
    clip = rng.uniform(-0.5, 0.5, int(3.3 * TINY_WINDOW_FRAMES * 160)).astype(np.float32)  # 4 windows
    others = [rng.uniform(-0.5, 0.5, int(n * 1000)).astype(np.float32) for n in (0.3, 1.0, 2.0, 4.0, 7.5, 9.0, 12.0)]

    def embed(model, clips) -> torch.Tensor:
        inputs = processor(audio=clips, sampling_rate=SAMPLING_RATE, return_tensors="pt")
        with torch.no_grad():
            return model.get_audio_features(**inputs).pooler_output

    alone = embed(model, [clip])[0]
    batch = embed(model, [*others[:3], clip, *others[3:]])
    assert batch.shape == (8, 128)
    torch.testing.assert_close(batch[3], alone, atol=1e-6, rtol=1e-5)
    short = embed(model, [others[0]])[0]  # one window alone; eight padding windows in the batch
    torch.testing.assert_close(batch[0], short, atol=1e-6, rtol=1e-5)
    model.save_pretrained(tmp_path / "again")
    torch.testing.assert_close(embed(MuLanModel.from_pretrained(tmp_path / "again"), [clip])[0], alone, atol=0, rtol=0)


# ------------------------------------------------------------------------------------------------------ export


def onnx_parity(folder, out, clip_seconds: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Cosines between onnxruntime's and torch's embeddings of clips of `clip_seconds` (other counts of clips and
    windows than the export's example) and of three texts of other lengths."""
    import onnxruntime

    from mulan_hf.cli import main

    assert main(["export", "--model-dir", str(folder), "--out", str(out)]) == 0
    model, processor = MuLanModel.from_pretrained(folder).eval(), MuLanProcessor.from_pretrained(out)
    rng = np.random.default_rng(0)
    clips = [rng.uniform(-0.5, 0.5, int(s * SAMPLING_RATE)).astype(np.float32) for s in clip_seconds]
    texts = ["calm piano", "a fast rock song with distorted electric guitars, bass and drums", "jazz"]
    inputs = processor(text=texts, audio=clips, sampling_rate=SAMPLING_RATE, return_tensors="pt")
    cosines = []
    for name, output in (("audio_encoder", "audio_embeds"), ("text_encoder", "text_embeds")):
        session = onnxruntime.InferenceSession(str(out / f"{name}.onnx"))
        feed = {i.name: inputs[i.name].numpy() for i in session.get_inputs()}
        with torch.no_grad():
            reference = getattr(model(**inputs), output).numpy()
        cosines.append((session.run(None, feed)[0] * reference).sum(-1))
    return cosines[0], cosines[1]


def test_onnx_export_matches_torch_for_any_clip_window_and_text_count(saved_model_dir, tmp_path):
    audio, text = onnx_parity(saved_model_dir, tmp_path / "onnx", [0.4, 4.0, 2.2, 7.0])
    assert audio.shape == (4,) and text.shape == (3,)
    assert audio.min() >= 0.999 and text.min() >= 0.999, (audio, text)


def test_onnx_export_of_a_musicnn_model_with_descriptors(tokenizer, tmp_path):
    """The default preset's shape: musicnn tower (front-end chunking off in the graph), key and rhythm descriptors
    reading pitch_class_profile."""
    from conftest import tiny_bert_config

    from mulan_hf import MuLanConfig, MuLanFeatureExtractor
    from mulan_hf.modeling.configuration_musicnn import MusicnnConfig

    config = MuLanConfig(
        audio_config=MusicnnConfig(num_mel_bins=32),
        text_config=tiny_bert_config(tokenizer.vocab_size),
        audio_descriptors=["pitch_class", "rhythm"],
    )
    MuLanModel(config).eval().save_pretrained(tmp_path / "model")
    extractor = MuLanFeatureExtractor(num_mel_bins=32, window_frames=96, pitch_class_profile=True)
    MuLanProcessor(extractor, tokenizer).save_pretrained(tmp_path / "model")
    audio, text = onnx_parity(tmp_path / "model", tmp_path / "onnx", [0.5, 3.0, 1.0])
    assert audio.min() >= 0.999 and text.min() >= 0.999, (audio, text)
    assert MuLanModel.from_pretrained(tmp_path / "model").audio_model.config.frontend_chunk_size == 4  # restored


def test_export_refuses_a_model_without_processor_and_unknown_formats(tokenizer, tmp_path, capsys):
    from conftest import make_tiny_model

    from mulan_hf.cli import main
    from mulan_hf.export import export

    make_tiny_model(tokenizer).save_pretrained(tmp_path / "bare")
    with pytest.raises(ValueError, match=r"No MuLan processor in .*processor.save_pretrained"):
        export(tmp_path / "bare", tmp_path / "out")
    assert (
        main(["export", "--model-dir", str(tmp_path / "bare"), "--out", str(tmp_path / "out"), "--format", "tflite"])
        == 2
    )
    assert "Unknown export format 'tflite'; known: ['onnx']" in capsys.readouterr().err


# -------------------------------------------------------------------------------------------------------- mteb


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory):
    from mulan_hf.data.corpus import make_corpus

    out = tmp_path_factory.mktemp("mteb-corpus")
    make_corpus(out, num_recordings=60, seed=4, seconds=2.0, workers=1, progress=False)  # 6 test recordings
    return out


def test_mteb_retrieval_on_the_local_corpus_agrees_with_our_own_metrics(saved_model_dir, small_corpus):
    """mteb's real evaluation loop (its data loaders, AudioCollator resampling, cosine search and pytrec_eval scores)
    on a local any-to-any task; the Hub is never asked (no cache, data from the corpus folder). Its recall@k must be
    the recall@k that mulan_hf.evaluation computes from the same checkpoint."""
    import mteb

    from mulan_hf.evaluation import text_to_music_retrieval
    from mulan_hf.evaluation.loaders import load_captions
    from mulan_hf.integrations.mteb import MuLanEncoder, corpus_retrieval_task

    encoder = MuLanEncoder(saved_model_dir)
    meta = encoder.mteb_model_meta
    assert (meta.embed_dim, meta.modalities, meta.similarity_fn_name) == (128, ["audio", "text"], "cosine")
    result = mteb.evaluate(encoder, corpus_retrieval_task(small_corpus), cache=None, show_progress_bar=False)
    scores = result.task_results[0].scores["test"][0]
    dataset, queries, relevant = load_captions(str(small_corpus), "long_form")
    assert len(dataset) == 6 and len(queries) >= 6
    ours = text_to_music_retrieval(
        MuLanModel.from_pretrained(saved_model_dir),
        MuLanProcessor.from_pretrained(saved_model_dir),
        dataset,
        queries,
        relevant,
        progress=False,
    ).metrics
    for k in (1, 5):
        assert scores[f"recall_at_{k}"] == pytest.approx(ours["recall_at"][str(k)], abs=1e-4), k
    assert 0.0 < scores["ndcg_at_10"] <= 1.0


def test_mteb_encoder_embeddings_are_the_models(saved_model_dir):
    import torchaudio
    from datasets import Audio, Dataset
    from torch.utils.data import DataLoader

    from mulan_hf.integrations.mteb import MuLanEncoder

    encoder = MuLanEncoder(saved_model_dir)
    clip = 0.5 * tone(330.0, 2.0, sampling_rate=22050)  # mteb hands audio over at its own rate: resampled
    audio = Dataset.from_dict({"audio": [{"array": clip, "sampling_rate": 22050}]}).cast_column("audio", Audio())
    embedded = encoder.get_audio_embeddings(DataLoader(audio, batch_size=1, collate_fn=list), show_progress_bar=False)
    resampled = torchaudio.functional.resample(torch.from_numpy(clip), 22050, SAMPLING_RATE).numpy()
    reference = encoder.processor(audio=[resampled], sampling_rate=SAMPLING_RATE, return_tensors="pt")
    with torch.no_grad():
        expected = encoder.model.get_audio_features(**reference).pooler_output.numpy()
    # datasets stores the clip as 16-bit audio (0.9991 here); unresampled, the tone would sit 1.38x higher and
    # last 1.38x longer: cosine 0.977.
    assert embedded.shape == (1, 128) and float(embedded[0] @ expected[0]) > 0.999, float(embedded[0] @ expected[0])
    long_text = " ".join(["piano"] * 2000)  # far past the text tower's positions: truncated, not a crash
    texts = DataLoader(
        [{"text": "calm piano"}, {"text": long_text}],
        batch_size=2,
        collate_fn=lambda rows: {"text": [r["text"] for r in rows]},
    )
    text = encoder.get_text_embeddings(texts, show_progress_bar=False)
    assert text.shape == (2, 128) and np.allclose(np.linalg.norm(text, axis=1), 1.0, atol=1e-5)


def test_mteb_bad_input_is_refused_clearly(tmp_path):
    from mulan_hf.integrations.mteb import MuLanEncoder, corpus_retrieval_task

    with pytest.raises(ValueError, match="needs a checkpoint"):
        MuLanEncoder()
    with pytest.raises(ValueError, match="no corpus"):
        corpus_retrieval_task(tmp_path).load_data()


# ------------------------------------------------------------------------------------------------------ MARBLE


def test_marble_encoder_lays_each_layers_frames_end_to_end_in_time(tokenizer, tmp_path):
    """The default preset's tower (musicnn, one state per spectrogram frame): a clip of 2.5 windows gives 3 windows
    of frames per layer, laid end to end in window order."""
    from conftest import tiny_bert_config

    from mulan_hf import MuLanConfig, MuLanFeatureExtractor
    from mulan_hf.integrations.marble import MuLanMARBLEEncoder
    from mulan_hf.modeling.configuration_musicnn import MusicnnConfig

    config = MuLanConfig(
        audio_config=MusicnnConfig(num_mel_bins=32), text_config=tiny_bert_config(tokenizer.vocab_size)
    )
    MuLanModel(config).save_pretrained(tmp_path)
    extractor = MuLanFeatureExtractor(num_mel_bins=32, window_frames=96)
    MuLanProcessor(extractor, tokenizer).save_pretrained(tmp_path)
    encoder = MuLanMARBLEEncoder(str(tmp_path))
    assert encoder.SAMPLING_RATE == SAMPLING_RATE and encoder.TOKEN_RATE == SAMPLING_RATE / extractor.hop_length
    assert not any(p.requires_grad for p in encoder.parameters()) and not encoder.model.training  # frozen
    window = 96 * extractor.hop_length
    rng = np.random.default_rng(0)
    wavs = torch.from_numpy(rng.uniform(-0.5, 0.5, (2, int(2.5 * window))).astype(np.float32))
    out = encoder(wavs)
    assert encoder.N_LAYERS == len(out.hidden_states) == 4
    assert [h.shape[-1] for h in out.hidden_states] == [561, 64, 64, 64]  # musicnn's front-end and mid-end widths
    assert all(h.shape[:2] == (2, 3 * 96) for h in out.hidden_states)
    assert out.last_hidden_state.shape == (2, 3 * 96, encoder.NUM_FEATURES)
    assert encoder(wavs[1:, :window]).hidden_states[0].shape == (1, 96, 561)  # one window, one window of frames
    inputs = encoder.processor(audio=list(wavs.numpy()), sampling_rate=SAMPLING_RATE, return_tensors="pt")
    with torch.no_grad():
        per_window = encoder.model.get_audio_features(**inputs, output_hidden_states=True).hidden_states
    for layer, states in enumerate(per_window):  # (batch, windows, frames, width): window w is frames w·96 ...
        for w in range(3):
            torch.testing.assert_close(out.hidden_states[layer][:, w * 96 : (w + 1) * 96], states[:, w])
    with pytest.raises(ValueError, match=r"\(batch, samples\) tensor"):
        encoder(torch.zeros(SAMPLING_RATE))


def test_marble_encoder_on_an_ast_tower(saved_model_dir):
    from mulan_hf.integrations.marble import MuLanMARBLEEncoder

    encoder = MuLanMARBLEEncoder(saved_model_dir, train_mode="full")
    assert encoder.TOKEN_RATE is None and encoder.model.training
    wavs = torch.from_numpy(np.random.default_rng(1).uniform(-0.5, 0.5, (2, SAMPLING_RATE)).astype(np.float32))
    out = encoder(wavs)
    layers = encoder.model.config.audio_config.num_hidden_layers + 1  # embeddings + each block
    assert len(out.hidden_states) == layers and out.hidden_states[-1].shape[-1] == encoder.NUM_FEATURES
    assert out.pooler_output.shape == (2, 128)
    with pytest.raises(ValueError, match="Unknown train_mode"):
        MuLanMARBLEEncoder(saved_model_dir, train_mode="lora")
