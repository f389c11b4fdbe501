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
