import math

import pytest
import torch
import torch.nn.functional as F
from conftest import (
    SAMPLING_RATE,
    TINY_MEL_BINS,
    TINY_WINDOW_FRAMES,
    make_tiny_model,
    tiny_ast_config,
    tiny_bert_config,
)
from transformers import ASTModel, AutoModel, ResNetConfig, ResNetModel

from mulan_hf import MuLanConfig, MuLanModel, MuLanOutput
from mulan_hf.modeling.modeling_mulan import spec_augment_mask


def random_batch(tokenizer, clips: int = 3, windows: int = 2, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(clips, windows, TINY_WINDOW_FRAMES, TINY_MEL_BINS, generator=generator)
    texts = ["calm solo piano", "fast rock drums with a loud snare", "violin", "brass band march"][:clips]
    text_inputs = tokenizer(texts, padding=True, return_tensors="pt")
    return {"input_features": features, **text_inputs}


def test_config_defaults_follow_the_paper():
    config = MuLanConfig()
    assert config.model_type == "mulan"
    assert type(config.audio_config).__name__ == "ASTConfig"
    assert type(config.text_config).__name__ == "BertConfig"
    assert config.text_config.hidden_size == 768 and config.text_config.num_hidden_layers == 12
    assert config.projection_dim == 128
    assert math.exp(-config.logit_scale_init_value) == pytest.approx(0.1)  # temperature 0.1
    assert config.apply_spec_augment
    with pytest.raises(ValueError, match="audio tower"):
        MuLanConfig(audio_config={"model_type": "vit"})


def test_forward_outputs(tiny_model, tokenizer):
    batch = random_batch(tokenizer)
    batch["window_mask"] = torch.tensor([[1, 1], [1, 0], [1, 1]])
    with torch.no_grad():
        out = tiny_model(**batch, return_loss=True)
    assert isinstance(out, MuLanOutput)
    assert out.logits_per_audio.shape == (3, 3)
    torch.testing.assert_close(out.logits_per_text, out.logits_per_audio.T)
    for embeds in (out.audio_embeds, out.text_embeds):
        assert embeds.shape == (3, 128)
        torch.testing.assert_close(embeds.norm(dim=-1), torch.ones(3))
    cosine = out.audio_embeds @ out.text_embeds.T
    torch.testing.assert_close(out.logits_per_audio, cosine * 10.0)  # exp(logit_scale) = 1 / 0.1
    expected_loss = (
        F.cross_entropy(out.logits_per_text, torch.arange(3)) + F.cross_entropy(out.logits_per_audio, torch.arange(3))
    ) / 2
    torch.testing.assert_close(out.loss, expected_loss)
    # (batch, windows, tokens, hidden): 2 CLS-like tokens + 2 x 8 patches; padding windows are zeros
    assert out.audio_model_output.last_hidden_state.shape == (3, 2, 18, 32)
    assert torch.all(out.audio_model_output.last_hidden_state[1, 1] == 0)
    assert out.text_model_output.last_hidden_state.shape[:2] == batch["input_ids"].shape

    as_tuple = tiny_model(**batch, return_dict=False)
    torch.testing.assert_close(as_tuple[0], out.logits_per_audio)
    torch.testing.assert_close(as_tuple[2], out.text_embeds)  # ClapOutput's order: text before audio
    from transformers.models.clap.modeling_clap import ClapOutput

    assert list(MuLanOutput.__dataclass_fields__) == list(ClapOutput.__dataclass_fields__)
    assert tiny_model(**batch, return_loss=True, return_dict=False)[0].ndim == 0


def test_window_average_is_the_mean_of_window_embeddings(tiny_model, tokenizer):
    features = random_batch(tokenizer, clips=2, windows=3)["input_features"]
    with torch.no_grad():
        clip_embeds = tiny_model.get_audio_features(features).pooler_output
        per_window = torch.stack(
            [tiny_model.get_audio_features(features[:, w : w + 1]).pooler_output for w in range(3)], dim=1
        )
    torch.testing.assert_close(clip_embeds, F.normalize(per_window.mean(dim=1), dim=-1))


def test_padding_windows_are_ignored(tiny_model, tokenizer):
    features = random_batch(tokenizer, clips=2, windows=3)["input_features"]
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    garbage = features.clone()
    garbage[0, 2] = 100.0
    garbage[1, 1:] = -50.0
    with torch.no_grad():
        clean = tiny_model.get_audio_features(features, window_mask=mask).pooler_output
        dirty = tiny_model.get_audio_features(garbage, window_mask=mask).pooler_output
        first_two = tiny_model.get_audio_features(features[:1, :2]).pooler_output
    torch.testing.assert_close(clean, dirty)
    torch.testing.assert_close(clean[:1], first_two)


def test_mean_pooling_option(tokenizer):
    model = make_tiny_model(tokenizer, audio_pooling="mean")
    features = random_batch(tokenizer, clips=2, windows=1)["input_features"]
    with torch.no_grad():
        out = model.get_audio_features(features)
        by_hand = F.normalize(model.audio_projection(out.last_hidden_state[:, 0, 2:].mean(dim=1)), dim=-1)
    torch.testing.assert_close(out.pooler_output, by_hand)
    with pytest.raises(ValueError, match="audio_pooling"):
        MuLanConfig(audio_pooling="max")


def test_long_clips_are_chunked_without_changing_results(tokenizer):
    model = make_tiny_model(tokenizer, window_chunk_size=2)
    features = random_batch(tokenizer, clips=2, windows=5)["input_features"]
    with torch.no_grad():
        chunked = model.get_audio_features(features).pooler_output
        model.config.window_chunk_size = 64
        whole = model.get_audio_features(features).pooler_output
    torch.testing.assert_close(chunked, whole)


def test_batch_results_equal_one_clip_at_a_time(tiny_model, tokenizer):
    batch = random_batch(tokenizer)
    with torch.no_grad():
        audio = tiny_model.get_audio_features(batch["input_features"]).pooler_output
        text = tiny_model.get_text_features(batch["input_ids"], batch["attention_mask"]).pooler_output
        for i in range(3):
            alone = tiny_model.get_audio_features(batch["input_features"][i : i + 1]).pooler_output
            torch.testing.assert_close(audio[i : i + 1], alone, atol=1e-5, rtol=1e-5)
            ids = tokenizer(
                [["calm solo piano", "fast rock drums with a loud snare", "violin"][i]], return_tensors="pt"
            )
            torch.testing.assert_close(
                text[i : i + 1], tiny_model.get_text_features(**ids).pooler_output, atol=1e-5, rtol=1e-5
            )


def test_loss_decreases_over_20_steps(tmp_path, minilm_path, processor, music):
    # A fresh tiny AST and the pretrained MiniLM text tower (a random tiny BERT maps every text to nearly the same
    # [CLS] state at initialisation), on rendered music with matching descriptions.
    torch.manual_seed(0)
    ASTModel(tiny_ast_config()).save_pretrained(tmp_path / "ast")
    model = MuLanModel.from_audio_text_pretrained(str(tmp_path / "ast"), minilm_path, apply_spec_augment=False)
    model.train()
    texts = ["a slow solo piano ballad", "a fast rock drum groove", "a slow violin melody", "an upbeat brass band"]
    batch = processor(text=texts, audio=list(music.values()), sampling_rate=SAMPLING_RATE, return_tensors="pt")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    losses = []
    for _ in range(20):
        loss = model(**batch, return_loss=True).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.25 * losses[0], losses
    assert model.logit_scale.grad is not None  # the temperature is trained


def test_spec_augment_only_in_training(tokenizer):
    model = make_tiny_model(tokenizer, mask_time_prob=0.3, mask_feature_prob=0.3)
    features = random_batch(tokenizer)["input_features"]
    with torch.no_grad():
        eval_a = model.get_audio_features(features).pooler_output
        eval_b = model.get_audio_features(features).pooler_output
        model.train()
        train_a = model.get_audio_features(features).pooler_output
        train_b = model.get_audio_features(features).pooler_output
        model.config.apply_spec_augment = False
        plain = model.get_audio_features(features).pooler_output
    torch.testing.assert_close(eval_a, eval_b, atol=0, rtol=0)
    assert not torch.allclose(train_a, train_b)  # random masks each call
    torch.testing.assert_close(plain, eval_a)  # no dropout in the tiny config: only SpecAugment differs


def test_spec_augment_mask_statistics():
    torch.manual_seed(0)
    mask = spec_augment_mask((2000, 100), mask_prob=0.2, mask_length=10, min_masks=1, device=torch.device("cpu"))
    assert mask.shape == (2000, 100)
    # two spans of width uniform in [0, 10] -> at most 20 masked, about 10 on average
    assert mask.sum(dim=1).max() <= 20
    assert 7 < mask.sum(dim=1).float().mean() < 11
    none = spec_augment_mask((5, 100), mask_prob=0.0, mask_length=10, min_masks=0, device=torch.device("cpu"))
    assert not none.any()


def test_resnet_tower_follows_the_paper(tokenizer):
    resnet = ResNetConfig(embedding_size=8, hidden_sizes=[8, 16, 32, 64], depths=[1, 1, 1, 1], num_channels=3)
    model = MuLanModel(MuLanConfig(audio_config=resnet, text_config=tiny_bert_config(tokenizer.vocab_size))).eval()
    assert model.config.audio_config.num_channels == 1  # log-mel as a grayscale image
    assert model.audio_model.embedder.embedder.convolution.stride == (1, 1)
    batch = random_batch(tokenizer)
    with torch.no_grad():
        out = model(**batch, return_loss=True)
        tokens = out.audio_model_output.last_hidden_state  # (batch, windows, time x mel cells, channels)
        pooled_by_hand = F.normalize(model.audio_projection(tokens[:, 0].mean(dim=1)), dim=-1)
        one_window = model.get_audio_features(batch["input_features"][:, :1]).pooler_output
    assert tokens.shape[0:2] == (3, 2) and tokens.shape[-1] == 64
    torch.testing.assert_close(one_window, pooled_by_hand, atol=1e-5, rtol=1e-5)  # mean over time and mel
    assert torch.isfinite(out.loss)


def test_gradient_checkpointing_gives_the_same_gradients(tokenizer):
    batch = random_batch(tokenizer)
    grads = []
    for checkpointing in (False, True):
        model = make_tiny_model(tokenizer, apply_spec_augment=False).train()
        if checkpointing:
            model.activation_checkpointing_enable()
            assert all(layer.gradient_checkpointing for layer in model.audio_model.layers)
        model(**batch, return_loss=True).loss.backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        torch.testing.assert_close(grads[0][name], grads[1][name], atol=1e-5, rtol=1e-4)


def test_sdpa_by_default_and_equal_to_eager(tokenizer):
    model = make_tiny_model(tokenizer)
    assert model.config.audio_config._attn_implementation == "sdpa"
    assert model.config.text_config._attn_implementation == "sdpa"
    batch = random_batch(tokenizer)
    with torch.no_grad():
        sdpa = model(**batch).logits_per_audio
        model.set_attn_implementation("eager")
        eager = model(**batch).logits_per_audio
    torch.testing.assert_close(sdpa, eager, atol=1e-4, rtol=1e-4)


def test_save_and_load_give_bit_identical_outputs(tmp_path, tiny_model, tokenizer):
    tiny_model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file()
    loaded = MuLanModel.from_pretrained(tmp_path).eval()
    batch = random_batch(tokenizer)
    with torch.no_grad():
        before, after = tiny_model(**batch), loaded(**batch)
    assert torch.equal(before.logits_per_audio, after.logits_per_audio)
    assert torch.equal(before.audio_embeds, after.audio_embeds)
    assert torch.equal(before.text_embeds, after.text_embeds)
    for key in ("audio_config", "text_config", "projection_dim", "logit_scale_init_value"):
        saved, original = loaded.config.to_diff_dict()[key], tiny_model.config.to_diff_dict()[key]
        if isinstance(saved, dict):  # from_pretrained records the dtype it loaded
            saved, original = (
                {k: v for k, v in saved.items() if k != "dtype"},
                {k: v for k, v in original.items() if k != "dtype"},
            )
        assert saved == original, key


def test_bfloat16_forward(tiny_model, tokenizer):
    model = tiny_model.to(torch.bfloat16)
    with torch.no_grad():
        out = model(**random_batch(tokenizer), return_loss=True)
    assert out.audio_embeds.dtype == torch.bfloat16
    assert torch.isfinite(out.loss.float())


def test_silence_and_short_clips_give_finite_embeddings(tiny_model, processor):
    import numpy as np

    inputs = processor(
        text=["silence", "a click"],
        audio=[np.zeros(SAMPLING_RATE, np.float32), np.array([0.5, -0.5, 0.2], np.float32)],
        sampling_rate=SAMPLING_RATE,
        return_tensors="pt",
    )
    with torch.no_grad():
        out = tiny_model(**inputs, return_loss=True)
    assert torch.isfinite(out.audio_embeds).all() and torch.isfinite(out.loss)


def test_bad_inputs_get_clear_errors(tiny_model, tokenizer):
    batch = random_batch(tokenizer)
    with pytest.raises(ValueError, match="3 clips and 2 texts"):
        tiny_model(input_features=batch["input_features"], input_ids=batch["input_ids"][:2], return_loss=True)
    # Different counts are fine for scoring (one clip against many labels)
    assert tiny_model(
        input_features=batch["input_features"][:1], input_ids=batch["input_ids"]
    ).logits_per_audio.shape == (1, 3)
    with pytest.raises(ValueError, match="window_mask has shape"):
        tiny_model.get_audio_features(batch["input_features"], window_mask=torch.ones(2, 2))
    with pytest.raises(ValueError, match="at least one valid window"):
        tiny_model.get_audio_features(batch["input_features"], window_mask=torch.tensor([[1, 1], [0, 0], [1, 0]]))
    with pytest.raises(ValueError, match="expects exactly 128 x 32"):
        tiny_model.get_audio_features(torch.randn(1, 1, 100, TINY_MEL_BINS))
    with pytest.raises(ValueError, match=r"\(batch, windows, frames, mel_bins\)"):
        tiny_model.get_audio_features(torch.randn(TINY_WINDOW_FRAMES, TINY_MEL_BINS))
    with pytest.raises(TypeError, match="torch.Tensor"):
        tiny_model.get_audio_features([[0.0]])
    corrupt = batch["input_features"].clone()
    corrupt[2, 1, 5, 3] = float("nan")
    with pytest.raises(ValueError, match=r"NaN or Inf in 1 window\(s\) \(clip, window\): \[\(2, 1\)\]"):
        tiny_model.get_audio_features(corrupt)
    with pytest.raises(ValueError, match="attention_mask has shape"):
        tiny_model.get_text_features(batch["input_ids"], attention_mask=batch["attention_mask"][:, :2])
    with pytest.raises(ValueError, match="needs both"):
        tiny_model(input_ids=batch["input_ids"])


def test_warm_start_from_pretrained_towers(tmp_path, minilm_path, tokenizer):
    torch.manual_seed(0)
    ASTModel(tiny_ast_config()).save_pretrained(tmp_path / "ast")
    model = MuLanModel.from_audio_text_pretrained(str(tmp_path / "ast"), minilm_path, audio_pooling="mean").eval()
    assert model.config.audio_pooling == "mean"  # MuLan's own audio_* settings are not tower arguments
    assert model.config.text_config._attn_implementation == "sdpa"
    minilm = AutoModel.from_pretrained(minilm_path)
    ast = ASTModel.from_pretrained(tmp_path / "ast")

    assert model.config.text_config.hidden_size == 384 and model.config.text_config.num_hidden_layers == 6
    assert model.text_projection.in_features == 384
    assert model.text_model.pooler is None  # MuLan reads [CLS]; no parameters without gradients
    for name, param in minilm.named_parameters():
        if not name.startswith("pooler."):
            assert torch.equal(model.text_model.get_parameter(name), param), name
    for name, param in ast.named_parameters():
        assert torch.equal(model.audio_model.get_parameter(name), param), name

    model.save_pretrained(tmp_path / "mulan")
    reloaded = MuLanModel.from_pretrained(tmp_path / "mulan").eval()
    ids = tokenizer(["dreamy synth pads"], return_tensors="pt")
    with torch.no_grad():
        before, after = model.get_text_features(**ids), reloaded.get_text_features(**ids)
    assert torch.equal(before.last_hidden_state, after.last_hidden_state)
    # Same weights; BLAS may pick a different kernel for freshly allocated vs. loaded buffers (last-bit noise).
    torch.testing.assert_close(before.pooler_output, after.pooler_output, atol=1e-6, rtol=1e-6)


def test_warm_start_with_another_window_length_interpolates_positions(tmp_path, minilm_path):
    ast = ASTModel(tiny_ast_config())
    freq, time = ast.embeddings.get_shape(ast.config)  # 2 x 8 patches
    with torch.no_grad():  # position embeddings that depend on the frequency row only
        grid = torch.arange(freq, dtype=torch.float32).repeat_interleave(time)[None, :, None].expand(1, -1, 32)
        ast.embeddings.position_embeddings[:, 2:] = grid
        ast.embeddings.position_embeddings[:, :2] = 7.0
    ast.save_pretrained(tmp_path / "ast")

    same = MuLanModel.from_audio_text_pretrained(str(tmp_path / "ast"), minilm_path, window_frames=TINY_WINDOW_FRAMES)
    torch.testing.assert_close(same.audio_model.embeddings.position_embeddings, ast.embeddings.position_embeddings)

    longer = MuLanModel.from_audio_text_pretrained(str(tmp_path / "ast"), minilm_path, window_frames=256)
    positions = longer.audio_model.embeddings.position_embeddings
    assert longer.config.audio_config.max_length == 256
    assert positions.shape == (1, 2 + freq * 16, 32)
    torch.testing.assert_close(positions[:, :2], torch.full((1, 2, 32), 7.0))
    rows = positions[0, 2:, 0].reshape(freq, 16)
    assert torch.allclose(rows.min(dim=1).values, rows.max(dim=1).values)  # still constant along time
    assert rows[1, 0] > rows[0, 0]  # and still ordered by frequency
    with torch.no_grad():
        out = longer.get_audio_features(torch.randn(1, 1, 256, TINY_MEL_BINS))
    assert out.pooler_output.shape == (1, 128)


def test_warm_start_folds_an_rgb_resnet_stem(tmp_path, minilm_path):
    config = ResNetConfig(embedding_size=8, hidden_sizes=[8, 16, 32, 64], depths=[1, 1, 1, 1], num_channels=3)
    rgb = ResNetModel(config)
    rgb.save_pretrained(tmp_path / "resnet")
    model = MuLanModel.from_audio_text_pretrained(str(tmp_path / "resnet"), minilm_path)
    stem = model.audio_model.embedder.embedder.convolution
    assert stem.in_channels == 1 and stem.stride == (1, 1)
    torch.testing.assert_close(stem.weight, rgb.embedder.embedder.convolution.weight.sum(dim=1, keepdim=True))
    with torch.no_grad():
        assert model.get_audio_features(torch.randn(1, 1, 64, 32)).pooler_output.shape == (1, 128)
    model.save_pretrained(tmp_path / "mulan")
    assert MuLanModel.from_pretrained(tmp_path / "mulan").audio_model.embedder.embedder.convolution.stride == (1, 1)


def test_a_sigmoid_model_holds_its_logit_bias_uses_it_and_saves_it(tokenizer, tmp_path):
    """SigLIP's convention: the learnt bias is the model's (config.logit_bias_init_value), added to the logits; the
    loss is the pairwise sigmoid one; save_pretrained / from_pretrained keep the learnt value."""
    import torch.nn.functional as F

    plain = make_tiny_model(tokenizer)
    assert plain.config.logit_bias_init_value is None and not hasattr(plain, "logit_bias")
    model = make_tiny_model(tokenizer, logit_bias_init_value=-10.0, apply_spec_augment=False)
    assert model.logit_bias.item() == -10.0 and any(p is model.logit_bias for p in model.parameters())
    with torch.no_grad():
        model.logit_bias.fill_(-3.25)  # as if learnt
    texts = tokenizer(["a calm piano", "fast drums", "a slow organ"], padding=True, return_tensors="pt")
    features = torch.randn(3, 1, TINY_WINDOW_FRAMES, TINY_MEL_BINS)
    out = model(input_features=features, **texts, return_loss=True)
    scaled = out.text_embeds @ out.audio_embeds.t() * model.logit_scale.exp()
    torch.testing.assert_close(out.logits_per_text, scaled - 3.25)
    labels = 2 * torch.eye(3) - 1
    torch.testing.assert_close(out.loss, -F.logsigmoid(labels * (scaled - 3.25)).sum() / 3)
    model.save_pretrained(tmp_path / "sigmoid")
    reloaded = MuLanModel.from_pretrained(tmp_path / "sigmoid")
    assert reloaded.logit_bias.item() == -3.25
    torch.testing.assert_close(reloaded(input_features=features, **texts).logits_per_text, out.logits_per_text)


@pytest.mark.parametrize("tower", ["ast", "resnet", "musicnn"])
def test_both_towers_return_hidden_states_and_the_ast_its_attentions(tokenizer, tower):
    """transformers' convention (CLAP, CLIP): output_hidden_states / output_attentions reach both towers, through
    get_audio_features, get_text_features and forward; audio states come per window, zeros for padding windows."""
    from mulan_hf.modeling.configuration_musicnn import MusicnnConfig

    audio_config = {
        "ast": tiny_ast_config(),
        "resnet": ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], num_channels=1),
        "musicnn": MusicnnConfig(num_mel_bins=TINY_MEL_BINS),
    }[tower]
    config = MuLanConfig(audio_config=audio_config, text_config=tiny_bert_config(tokenizer.vocab_size))
    model = MuLanModel(config).eval()
    model.set_attn_implementation("eager")  # SDPA kernels do not return attention weights
    features = torch.randn(2, 3, TINY_WINDOW_FRAMES, TINY_MEL_BINS)
    window_mask = torch.tensor([[1, 1, 1], [1, 0, 0]])
    audio = model.get_audio_features(
        input_features=features, window_mask=window_mask, output_hidden_states=True, output_attentions=True
    )
    layers = {"ast": 1 + tiny_ast_config().num_hidden_layers, "resnet": 3, "musicnn": None}[tower]
    assert audio.hidden_states is not None and (layers is None or len(audio.hidden_states) == layers)
    for state in audio.hidden_states:
        assert state.shape[:2] == (2, 3) and torch.isfinite(state).all()
        assert bool((state[1, 1:] == 0).all()) and bool(state[1, 0].abs().sum() > 0)
    if tower == "ast":
        assert len(audio.attentions) == tiny_ast_config().num_hidden_layers
        assert audio.attentions[0].shape[:3] == (2, 3, tiny_ast_config().num_attention_heads)
        torch.testing.assert_close(
            audio.attentions[0][0, 0].sum(-1), torch.ones_like(audio.attentions[0][0, 0, :, :, 0])
        )
    else:
        assert audio.attentions is None  # a CNN has none
    plain = model.get_audio_features(input_features=features, window_mask=window_mask)
    assert plain.hidden_states is None and plain.attentions is None
    torch.testing.assert_close(plain.pooler_output, audio.pooler_output)

    texts = tokenizer(["a calm piano", "fast drums"], padding=True, return_tensors="pt")
    text = model.get_text_features(**texts, output_hidden_states=True, output_attentions=True)
    assert len(text.hidden_states) == model.config.text_config.num_hidden_layers + 1
    assert len(text.attentions) == model.config.text_config.num_hidden_layers
    both = model(input_features=features, window_mask=window_mask, **texts, output_hidden_states=True)
    assert len(both.audio_model_output.hidden_states) == len(audio.hidden_states)
    assert len(both.text_model_output.hidden_states) == len(text.hidden_states)


def test_input_embeddings_are_the_text_towers_and_can_be_replaced(tokenizer):
    model = make_tiny_model(tokenizer)
    embeddings = model.get_input_embeddings()
    assert embeddings is model.text_model.embeddings.word_embeddings
    texts = tokenizer(["a calm piano"], return_tensors="pt")
    before = model.get_text_features(**texts).pooler_output
    replacement = torch.nn.Embedding(embeddings.num_embeddings, embeddings.embedding_dim)
    model.set_input_embeddings(replacement)
    assert model.get_input_embeddings() is replacement and model.text_model.get_input_embeddings() is replacement
    assert not torch.allclose(model.get_text_features(**texts).pooler_output, before)


def test_initializer_range_sets_the_projections_and_none_scales_to_their_input(tokenizer):
    scaled = make_tiny_model(tokenizer)
    for projection in (scaled.audio_projection, scaled.text_projection):
        expected = projection.in_features**-0.5
        assert abs(float(projection.weight.std()) - expected) < 0.1 * expected
        assert float(projection.bias.abs().max()) == 0.0 if projection.bias is not None else True
    fixed = make_tiny_model(tokenizer, initializer_range=0.5)
    assert abs(float(fixed.audio_projection.weight.std()) - 0.5) < 0.05
    assert "initializer_range" in MuLanConfig.__doc__ and "mask_feature_min_masks (`int`" in MuLanConfig.__doc__


def test_import_is_light_and_the_auto_classes_and_pipeline_still_know_mulan(saved_model_dir):
    """`import mulan_hf` loads neither torch nor transformers' modeling code; the Auto classes and the pipeline get
    MuLan when transformers loads them (mulan_hf._registration), whatever the order of the imports."""
    import subprocess
    import sys

    light = "import sys, mulan_hf; print('torch' in sys.modules, 'transformers.modeling_utils' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", light], capture_output=True, text=True).stdout.split() == [
        "False",
        "False",
    ]
    for first, then in (("import mulan_hf", "from transformers import AutoModel"),
                        ("from transformers import AutoModel", "import mulan_hf")):  # fmt: skip
        script = (
            f"{first}\n{then}\n"
            "from transformers import AutoProcessor, pipeline\n"
            f"model = AutoModel.from_pretrained({saved_model_dir!r})\n"
            f"processor = AutoProcessor.from_pretrained({saved_model_dir!r})\n"
            f"tagger = pipeline('zero-shot-audio-classification', model={saved_model_dir!r})\n"
            "print(type(model).__name__, type(processor).__name__, type(tagger).__name__)\n"
        )
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
        assert result.stdout.split() == [
            "MuLanModel",
            "MuLanProcessor",
            "MuLanZeroShotAudioClassificationPipeline",
        ], result.stderr[-3000:]
