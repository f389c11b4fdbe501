"""The musicnn audio tower: the weights the PyPI package `musicnn` ships, read without TensorFlow, give the
published model's outputs; the tower tags real instruments; MuLan runs, saves and reloads with it; its front-end
settings and a locked tower behave as documented."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import SAMPLING_RATE

from mulan_hf import MuLanFeatureExtractor, MuLanModel, MusicnnConfig, MusicnnModel
from mulan_hf.data.corpus import make_recording
from mulan_hf.data.synthesis import Note, Part, render
from mulan_hf.modeling.convert_musicnn import (
    load_musicnn,
    musicnn_package_checkpoint,
    read_tf_checkpoint,
    save_packaged_musicnn,
)
from mulan_hf.packaged import packaged_text_model_path

FIXTURES = Path(__file__).parent / "fixtures"
MUSICNN_FRONTEND = dict(
    num_mel_bins=96, hop_length=256, win_length=512, n_fft=512, f_min=0.0, mel_scale="slaney",
    log_scale="log10_1p", mel_mean=0.0, mel_std=0.5,
)  # fmt: skip


@pytest.fixture(scope="module")
def tagger():
    return load_musicnn()


@pytest.fixture(scope="module")
def musicnn_folder(tmp_path_factory) -> Path:
    return save_packaged_musicnn(tmp_path_factory.mktemp("musicnn") / "MTT_musicnn")


def test_packaged_checkpoint_reads_without_tensorflow_and_matches_tensorflows_outputs(tagger):
    """The reference logits were computed once by TensorFlow 2.21 running the musicnn package's own graph on this
    input (tests/fixtures/musicnn_tf_reference.json)."""
    tensors = read_tf_checkpoint(musicnn_package_checkpoint())
    assert tensors["conv2d/kernel"].shape == (7, 38, 1, 204) and tensors["dense/kernel"].shape == (1506, 200)
    reference = json.loads((FIXTURES / "musicnn_tf_reference.json").read_text())
    x = np.random.default_rng(0).uniform(0, 3, size=(3, 187, 96)).astype(np.float32)
    with torch.no_grad():
        out = tagger(torch.from_numpy(x))
    np.testing.assert_allclose(out.logits.numpy(), np.array(reference["logits"]), atol=1e-4)
    np.testing.assert_allclose(out.penultimate[:, :8].numpy(), np.array(reference["penultimate_first8"]), atol=1e-4)


def test_the_pretrained_tagger_hears_instruments_in_rendered_music(tagger):
    """One melody played solo by piano, acoustic guitar and flute, and a drum beat (TimGM6mb): each solo gets the
    highest score of its own MTT tag among the four ("beat" for the drums)."""
    extractor = MuLanFeatureExtractor(window_frames=187, **MUSICNN_FRONTEND)
    steps = np.random.default_rng(0).choice([0, 2, 4, 5, 7, 9, 11, 12], size=15)
    melody = [Note(0.4 * i, 0.38, 60 + int(step), 90) for i, step in enumerate(steps)]
    beat = [Note(0.25 * i, 0.2, 36 if i % 2 == 0 else 38, 100) for i in range(24)]
    beat += [Note(0.25 * i + 0.125, 0.1, 42, 80) for i in range(24)]
    solos = {"piano": [Part(0, melody)], "guitar": [Part(24, melody)], "flute": [Part(73, melody)]}
    solos["beat"] = [Part(0, beat, is_drums=True)]
    scores = {}
    for name, parts in solos.items():
        features = extractor(render(parts, 6.0, SAMPLING_RATE), sampling_rate=SAMPLING_RATE, return_tensors="pt")
        with torch.no_grad():
            scores[name] = torch.sigmoid(tagger(features["input_features"][0]).logits).mean(dim=0)
    for tag in solos:
        column = tagger.config.label2id[tag]
        by_solo = {name: round(float(s[column]), 3) for name, s in scores.items()}
        assert max(by_solo, key=by_solo.get) == tag, (tag, by_solo)


def test_mulan_with_a_musicnn_tower_embeds_saves_and_reloads(musicnn_folder, tmp_path):
    model = MuLanModel.from_audio_text_pretrained(str(musicnn_folder), packaged_text_model_path()).eval()
    assert model.config.audio_tower_type == "musicnn"
    assert model.audio_projection.in_features == model.config.audio_config.pooled_size == 1506
    tagger_state = load_musicnn().musicnn.state_dict()
    for name, value in model.audio_model.state_dict().items():  # the pretrained weights, running statistics too
        torch.testing.assert_close(value, tagger_state[name])
    features = torch.randn(2, 3, 120, 96)
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]])
    with torch.no_grad():
        out = model.get_audio_features(features, window_mask=mask)
    assert out.pooler_output.shape == (2, 128) and out.last_hidden_state.shape == (2, 3, 120, 753)
    torch.testing.assert_close(out.pooler_output.norm(dim=-1), torch.ones(2))
    model.save_pretrained(tmp_path / "mulan")
    reloaded = MuLanModel.from_pretrained(tmp_path / "mulan").eval()
    with torch.no_grad():
        torch.testing.assert_close(
            reloaded.get_audio_features(features, window_mask=mask).pooler_output, out.pooler_output
        )
    with pytest.raises(ValueError, match="expects 96"):
        model.get_audio_features(torch.randn(1, 1, 120, 64))


def test_musicnn_hidden_states_are_its_layers():
    model = MusicnnModel(MusicnnConfig()).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 80, 96), output_hidden_states=True)
    assert [h.shape[-1] for h in out.hidden_states] == [561, 64, 64, 64]
    assert out.last_hidden_state.shape == (2, 80, 753) and out.pooler_output.shape == (2, 1506)
    with pytest.raises(ValueError, match="96 mel bins"):
        model(torch.randn(2, 80, 64))
    with pytest.raises(ValueError, match="non-empty"):
        model(torch.randn(0, 80, 96))


def test_lock_towers_trains_only_the_named_audio_layers_and_refuses_unknown_ones(musicnn_folder):
    from mulan_hf.training.trainer import MuLanTrainingArguments, lock_towers

    model = MuLanModel.from_audio_text_pretrained(str(musicnn_folder), packaged_text_model_path())
    lock_towers(model, MuLanTrainingArguments(lock_audio_tower=True, audio_trainable_layers=["midend"]))
    trained = {n.split(".")[0] for n, p in model.audio_model.named_parameters() if p.requires_grad}
    assert trained == {"midend"}
    with pytest.raises(ValueError, match=r"\['mid_end'\] name no parameter.*'frontend', 'midend', 'pool_norm'"):
        lock_towers(model, MuLanTrainingArguments(lock_audio_tower=True, audio_trainable_layers=["mid_end"]))


def test_musicnn_frontend_settings_match_torchaudio_and_refuse_unknown_names():
    import torchaudio

    audio = torch.from_numpy(make_recording(0, seed=0, seconds=3.0).audio)
    ours = MuLanFeatureExtractor(window_frames=150, **MUSICNN_FRONTEND)(
        audio, sampling_rate=SAMPLING_RATE, windows="first", return_tensors="pt"
    )["input_features"][0, 0]
    mel = torchaudio.transforms.MelSpectrogram(
        SAMPLING_RATE, n_fft=512, hop_length=256, n_mels=96, mel_scale="slaney", norm="slaney", pad_mode="constant"
    )
    reference = torch.log10(1 + 10000 * mel(audio)).T[:150]
    # Same mel bands, compression and frame centres; only the Hann window differs (symmetric vs periodic).
    assert (ours - reference).abs().mean() < 0.02 * reference.abs().mean()
    with pytest.raises(ValueError, match="mel_scale must be one of"):
        MuLanFeatureExtractor(mel_scale="bark")
    with pytest.raises(ValueError, match="log_scale must be one of"):
        MuLanFeatureExtractor(log_scale="db")


def test_bad_checkpoints_get_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="single-shard TensorFlow checkpoint"):
        read_tf_checkpoint(tmp_path / "missing")
    (tmp_path / "junk.index").write_bytes(b"\0" * 64)
    (tmp_path / "junk.data-00000-of-00001").write_bytes(b"")
    with pytest.raises(ValueError, match="not a TensorFlow checkpoint index"):
        read_tf_checkpoint(tmp_path / "junk")
    with pytest.raises(ValueError, match="Unknown musicnn model"):
        musicnn_package_checkpoint("MTT_resnet")


def test_a_saved_mulan_with_a_musicnn_tower_loads_as_remote_code(musicnn_folder, tmp_path):
    """The musicnn files travel with the weights: the model loads where mulan_hf cannot be imported."""
    import subprocess
    import sys
    import textwrap

    model = MuLanModel.from_audio_text_pretrained(str(musicnn_folder), packaged_text_model_path()).eval()
    model.save_pretrained(tmp_path / "mulan")
    features = torch.randn(1, 2, 100, 96)
    torch.save(features, tmp_path / "features.pt")
    with torch.no_grad():
        expected = model.get_audio_features(features).pooler_output
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules["mulan_hf"] = None  # this process cannot import mulan_hf
        import torch
        from transformers import AutoModel
        model = AutoModel.from_pretrained({str(tmp_path / "mulan")!r}, trust_remote_code=True).eval()
        with torch.no_grad():
            out = model.get_audio_features(torch.load({str(tmp_path / "features.pt")!r})).pooler_output
        torch.save(out, {str(tmp_path / "out.pt")!r})
        print(type(model.audio_model).__module__)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1].startswith("transformers_modules.")
    torch.testing.assert_close(torch.load(tmp_path / "out.pt"), expected)


def test_frontend_pools_before_its_frozen_norms_with_the_same_numbers():
    """In eval mode the front-end takes the max over mel before ReLU and the batch norm (exact for either sign of a
    channel's scale: a negative one turns the max into the min); in training mode it runs them in the plain order."""
    torch.manual_seed(0)
    frontend = MusicnnModel(MusicnnConfig()).frontend
    for norm in [*frontend.timbral_norm, *frontend.temporal_norm]:
        norm.weight.data.normal_()  # about half the channels with a negative scale
        norm.bias.data.normal_()
        norm.running_mean.uniform_(-1, 1)
        norm.running_var.uniform_(0.5, 2)
    assert any((norm.weight < 0).any() and (norm.weight > 0).any() for norm in frontend.timbral_norm)
    features = torch.randn(3, 60, 96)

    def plain(features):
        x = frontend.input_norm(features.unsqueeze(1))
        branches = []
        padded = torch.nn.functional.pad(x, (0, 0, frontend.timbral_pad, frontend.timbral_pad))
        for conv, norm in zip(frontend.timbral, frontend.timbral_norm):
            branches.append(norm(torch.relu(conv(padded))).amax(dim=3))
        for conv, norm in zip(frontend.temporal, frontend.temporal_norm):
            span = conv.kernel_size[0]
            padded = torch.nn.functional.pad(x, (0, 0, (span - 1) // 2, span - 1 - (span - 1) // 2))
            branches.append(norm(torch.relu(conv(padded))).amax(dim=3))
        return torch.cat(branches, dim=1)

    frontend.eval()
    with torch.no_grad():
        torch.testing.assert_close(frontend(features), plain(features), rtol=1e-5, atol=1e-5)
    frontend.train()
    with torch.no_grad():
        torch.testing.assert_close(frontend(features), plain(features))
