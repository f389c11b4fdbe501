"""Hugging Face integration: Auto classes, remote code, and pipeline("zero-shot-audio-classification")."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from conftest import SAMPLING_RATE, TINY_WINDOW_FRAMES, make_tiny_model, tone
from transformers import AutoConfig, AutoFeatureExtractor, AutoModel, AutoProcessor, pipeline

from mulan_hf import (
    MuLanConfig,
    MuLanFeatureExtractor,
    MuLanModel,
    MuLanProcessor,
    MuLanZeroShotAudioClassificationPipeline,
)
from mulan_hf.data import write_wav

LABELS = ["piano", "drums", "violin", "brass"]


def manual_scores(model_dir: str, clips: list[np.ndarray], labels: list[str]) -> torch.Tensor:
    """What the pipeline should return, computed by hand: softmax over labels of the scaled cosine similarities."""
    model = MuLanModel.from_pretrained(model_dir).eval()
    processor = MuLanProcessor.from_pretrained(model_dir)
    inputs = processor(text=labels, audio=clips, sampling_rate=SAMPLING_RATE, return_tensors="pt")
    with torch.no_grad():
        return model(**inputs).logits_per_audio.softmax(dim=-1)


def as_vector(result: list[dict], labels: list[str]) -> torch.Tensor:
    scores = {r["label"]: r["score"] for r in result}
    return torch.tensor([scores[label] for label in labels])


def test_auto_classes_are_registered(saved_model_dir, tokenizer):
    assert isinstance(AutoConfig.for_model("mulan"), MuLanConfig)
    assert isinstance(AutoModel.from_config(make_tiny_model(tokenizer).config), MuLanModel)
    assert isinstance(AutoModel.from_pretrained(saved_model_dir), MuLanModel)
    assert isinstance(AutoFeatureExtractor.from_pretrained(saved_model_dir), MuLanFeatureExtractor)
    assert isinstance(AutoProcessor.from_pretrained(saved_model_dir), MuLanProcessor)


def test_saved_directory_holds_weights_processor_and_remote_code(saved_model_dir):
    from pathlib import Path

    files = {p.name for p in Path(saved_model_dir).iterdir()}
    assert {"model.safetensors", "config.json", "processor_config.json", "tokenizer.json"} <= files
    assert {
        "modeling_mulan.py",
        "configuration_mulan.py",
        "feature_extraction_mulan.py",
        "processing_mulan.py",
    } <= files
    config = json.loads((Path(saved_model_dir) / "config.json").read_text())
    assert config["auto_map"] == {
        "AutoConfig": "configuration_mulan.MuLanConfig",
        "AutoModel": "modeling_mulan.MuLanModel",
    }


def test_remote_code_loads_where_mulan_hf_cannot_be_imported(saved_model_dir, tmp_path, music):
    clip = music["piano_ballad"]
    np.save(tmp_path / "clip.npy", clip)
    expected = manual_scores(saved_model_dir, [clip], LABELS)[0]
    script = textwrap.dedent(
        f"""
        import json, sys
        sys.modules["mulan_hf"] = None  # this process cannot import mulan_hf
        try:
            import mulan_hf
            raise SystemExit("mulan_hf was importable")
        except ImportError:
            pass
        import numpy as np, torch
        from transformers import AutoModel, AutoProcessor, pipeline
        model = AutoModel.from_pretrained({saved_model_dir!r}, trust_remote_code=True).eval()
        processor = AutoProcessor.from_pretrained({saved_model_dir!r}, trust_remote_code=True)
        clip = np.load({str(tmp_path / "clip.npy")!r})
        inputs = processor(text={LABELS!r}, audio=clip, sampling_rate=16000, return_tensors="pt")
        with torch.no_grad():
            scores = model(**inputs).logits_per_audio.softmax(-1)[0].tolist()
        tagger = pipeline("zero-shot-audio-classification", model={saved_model_dir!r}, trust_remote_code=True)
        ranked = tagger(clip, candidate_labels={LABELS!r}, hypothesis_template="{{}}")
        print(json.dumps({{"class": type(model).__module__, "scores": scores, "ranked": ranked}}))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert payload["class"].startswith("transformers_modules.")  # the copy shipped next to the weights
    torch.testing.assert_close(torch.tensor(payload["scores"]), expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(as_vector(payload["ranked"], LABELS), expected, atol=1e-5, rtol=1e-5)


def test_pipeline_on_an_array(saved_model_dir, music):
    tagger = pipeline("zero-shot-audio-classification", model=saved_model_dir)
    assert isinstance(tagger, MuLanZeroShotAudioClassificationPipeline)
    result = tagger(music["rock_drums"], candidate_labels=LABELS)
    assert [r["label"] for r in result] == sorted(LABELS, key=lambda x: -as_vector(result, LABELS)[LABELS.index(x)])
    assert sum(r["score"] for r in result) == pytest.approx(1.0)
    expected = manual_scores(saved_model_dir, [music["rock_drums"]], LABELS)[0]
    torch.testing.assert_close(as_vector(result, LABELS), expected, atol=1e-5, rtol=1e-5)


def test_pipeline_on_audio_files(saved_model_dir, music, tmp_path):
    tagger = pipeline("zero-shot-audio-classification", model=saved_model_dir)
    wav = write_wav(tmp_path / "violin.wav", music["violin_melody"], SAMPLING_RATE)
    expected = manual_scores(saved_model_dir, [music["violin_melody"]], LABELS)[0]
    from_wav = as_vector(tagger(str(wav), candidate_labels=LABELS), LABELS)
    torch.testing.assert_close(from_wav, expected, atol=2e-3, rtol=0)  # 16-bit PCM rounding
    mp3 = tmp_path / "violin.mp3"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(wav), "-ar", "44100", "-ac", "2", str(mp3)], check=True)
    from_mp3 = as_vector(tagger(str(mp3), candidate_labels=LABELS), LABELS)
    assert from_mp3.argmax() == expected.argmax()
    torch.testing.assert_close(from_mp3, expected, atol=0.05, rtol=0)  # lossy codec, resampled twice


def test_pipeline_on_a_long_clip_averages_its_windows(saved_model_dir, music):
    long_clip = np.concatenate([music["piano_ballad"], music["brass_band"], music["rock_drums"]])  # ~10 windows
    tagger = pipeline("zero-shot-audio-classification", model=saved_model_dir)
    result = as_vector(tagger(long_clip, candidate_labels=LABELS), LABELS)
    torch.testing.assert_close(result, manual_scores(saved_model_dir, [long_clip], LABELS)[0], atol=1e-5, rtol=1e-5)
    windows = MuLanFeatureExtractor.from_pretrained(saved_model_dir)(long_clip, sampling_rate=SAMPLING_RATE)
    assert windows["window_mask"].sum() == int(np.ceil(len(long_clip) / (TINY_WINDOW_FRAMES * 160)))


def test_batched_pipeline_handles_clips_of_different_lengths(saved_model_dir, music):
    clips = [music["piano_ballad"], music["rock_drums"][:3000], np.concatenate(list(music.values())), tone(440, 1.0)]
    tagger = pipeline("zero-shot-audio-classification", model=saved_model_dir)
    batched = tagger(clips, batch_size=3, candidate_labels=LABELS)
    one_by_one = [tagger(clip, candidate_labels=LABELS) for clip in clips]
    assert len(batched) == len(clips)
    for got, expected in zip(batched, one_by_one):
        torch.testing.assert_close(as_vector(got, LABELS), as_vector(expected, LABELS), atol=1e-5, rtol=1e-5)


def test_pipeline_accepts_datasets_audio_dicts_at_other_rates(saved_model_dir):
    tagger = pipeline("zero-shot-audio-classification", model=saved_model_dir)
    at_44k = {"array": tone(440, 2.0, 44100), "sampling_rate": 44100}
    at_16k = tone(440, 2.0)
    got = as_vector(tagger(at_44k, candidate_labels=LABELS), LABELS)
    torch.testing.assert_close(got, as_vector(tagger(at_16k, candidate_labels=LABELS), LABELS), atol=0.02, rtol=0)


def test_pipeline_bad_input(saved_model_dir):
    tagger = pipeline("zero-shot-audio-classification", model=saved_model_dir)
    with pytest.raises(ValueError, match="candidate_labels"):
        tagger(tone(440, 1.0), candidate_labels=[])
    with pytest.raises(ValueError, match="'array'"):
        tagger({"samples": tone(440, 1.0)}, candidate_labels=LABELS)
    with pytest.raises(ValueError, match="empty"):
        tagger(np.zeros(0, np.float32), candidate_labels=LABELS)


def test_stock_pipeline_behaviour_is_kept_for_other_models(minilm_path):
    """The registered subclass defers to transformers' code when the model is not MuLan (a tiny random CLAP)."""
    from transformers import AutoTokenizer, ClapAudioConfig, ClapConfig, ClapFeatureExtractor, ClapModel, ClapTextConfig
    from transformers.pipelines.zero_shot_audio_classification import ZeroShotAudioClassificationPipeline

    tokenizer = AutoTokenizer.from_pretrained(minilm_path, model_input_names=["input_ids", "attention_mask"])
    text = ClapTextConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=37,
        projection_dim=16,
        max_position_embeddings=64,
    )
    audio = ClapAudioConfig(
        depths=[1, 1, 1, 1],
        num_attention_heads=[1, 1, 1, 1],
        patch_embeds_hidden_size=8,
        hidden_size=64,
        projection_dim=16,
        spec_size=256,
        num_mel_bins=64,
        window_size=8,
        patch_stride=(4, 4),
        enable_fusion=False,
    )
    torch.manual_seed(0)
    model = ClapModel(ClapConfig(text_config=text.to_dict(), audio_config=audio.to_dict(), projection_dim=16)).eval()
    feature_extractor = ClapFeatureExtractor(feature_size=64, truncation="rand_trunc")
    clip = tone(440, 1.0, 48000)
    components = {"model": model, "feature_extractor": feature_extractor, "tokenizer": tokenizer}
    ours = pipeline("zero-shot-audio-classification", **components)
    stock = pipeline("zero-shot-audio-classification", pipeline_class=ZeroShotAudioClassificationPipeline, **components)
    assert (
        isinstance(ours, MuLanZeroShotAudioClassificationPipeline)
        and type(stock) is ZeroShotAudioClassificationPipeline
    )
    assert ours(clip, candidate_labels=["dog", "rain"]) == stock(clip, candidate_labels=["dog", "rain"])
