"""Global-batch, duplicate-aware contrastive loss and the step-decay schedule."""

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hub_stand_in import HubStandIn  # tests/hub_stand_in.py

from mulan_hf import MuLanModel
from mulan_hf.training import (
    TextNegatives,
    contrastive_loss,
    positive_mask,
    sigmoid_loss,
    step_decay_factor,
    step_decay_schedule,
    string_id,
    text_ids,
)

SCRIPT = Path(__file__).parent / "scripts" / "global_batch_step.py"


def unit(*shape: int, seed: int = 0) -> torch.Tensor:
    return F.normalize(torch.randn(*shape, generator=torch.Generator().manual_seed(seed)), dim=-1)


def test_plain_loss_is_the_papers_symmetric_infonce():
    audio, text = unit(6, 8, seed=1), unit(6, 8, seed=2)
    scale = torch.tensor(math.log(10.0))
    logits = 10.0 * text @ audio.T
    expected = (F.cross_entropy(logits, torch.arange(6)) + F.cross_entropy(logits.T, torch.arange(6))) / 2
    torch.testing.assert_close(contrastive_loss(audio, text, scale), expected)


def test_mulan_loss_is_the_models_own_loss_on_one_process_and_refuses_what_it_cannot_do(tokenizer):
    """The training loss without duplicates equals `forward(return_loss=True)`'s, for both kinds."""
    from conftest import make_tiny_model

    from mulan_hf.modeling.modeling_mulan import mulan_loss, pairwise_sigmoid_loss
    from mulan_hf.training import MuLanLoss

    audio, text = unit(5, 128, seed=5), unit(5, 128, seed=6)
    for bias in (None, -10.0):
        model = make_tiny_model(tokenizer, logit_bias_init_value=bias)
        logits_per_text = model.logit_scale.exp() * text @ audio.T + (0 if bias is None else model.logit_bias)
        expected = mulan_loss(logits_per_text) if bias is None else pairwise_sigmoid_loss(logits_per_text)
        loss = MuLanLoss("contrastive" if bias is None else "sigmoid")
        got = loss(audio, text, model.logit_scale, getattr(model, "logit_bias", None), torch.arange(5), torch.arange(5))
        torch.testing.assert_close(got, expected)
    groups = torch.tensor([1, 1, 2, 3, 4])  # pairs 0 and 1 share a text
    plain = MuLanLoss("contrastive", mask_duplicates=False)(audio, text, model.logit_scale, text_group=groups)
    torch.testing.assert_close(plain, contrastive_loss(audio, text, model.logit_scale))
    with pytest.raises(ValueError, match="needs the model's logit_bias"):
        MuLanLoss("sigmoid")(audio, text, model.logit_scale)
    with pytest.raises(ValueError, match="Unknown loss 'focal'"):
        MuLanLoss("focal")


def test_identical_texts_are_not_negatives_of_each_other():
    audio = unit(4, 8, seed=3)
    text = unit(4, 8, seed=4)
    text[2] = text[0]  # two pairs share the text "rock"
    groups = torch.tensor([7, 1, 7, 2])
    scale = torch.tensor(math.log(10.0))
    aware = contrastive_loss(audio, text, scale, text_group=groups)
    plain = contrastive_loss(audio, text, scale)
    assert aware < plain  # the shared text no longer counts against either pair

    # Exactly the plain loss with the two cross-pairs (text 0, clip 2) and (text 2, clip 0) left out of the softmax.
    audio_grad = audio.clone().requires_grad_(True)
    contrastive_loss(audio_grad, text, scale, text_group=groups).backward()
    logits = 10.0 * text @ audio.T
    masked = logits.clone()
    masked[0, 2] = masked[2, 0] = float("-inf")
    expected = (F.cross_entropy(masked, torch.arange(4)) + F.cross_entropy(masked.T, torch.arange(4))) / 2
    torch.testing.assert_close(aware, expected)
    assert torch.isfinite(audio_grad.grad).all()
    # ... so how similar the duplicates are no longer matters: moving clip 2 towards text 0 leaves pair 0's terms.
    moved = audio.clone()
    moved[2] = F.normalize(audio[2] + 2 * text[0], dim=0)
    logits_moved = 10.0 * text @ moved.T
    row0 = F.cross_entropy(logits.masked_fill(masked.isinf(), float("-inf"))[0:1], torch.tensor([0]))
    row0_moved = F.cross_entropy(logits_moved.masked_fill(masked.isinf(), float("-inf"))[0:1], torch.tensor([0]))
    torch.testing.assert_close(row0, row0_moved)


def test_positive_mask_merges_texts_and_recordings():
    mask = positive_mask(torch.tensor([1, 2, 1, 3]), torch.tensor([9, 9, 8, 7]), 4, "cpu")
    assert mask.tolist() == [
        [True, True, True, False],
        [True, True, False, False],
        [True, False, True, False],
        [False, False, False, True],
    ]


def test_text_ids_ignore_padding_and_string_ids_are_stable():
    ids = torch.tensor([[101, 5, 6, 102, 0], [101, 5, 6, 102, 0], [101, 5, 7, 102, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 0]] * 3)
    groups = text_ids(ids, mask)
    assert groups[0] == groups[1] != groups[2]
    assert string_id("rec-000001") == string_id("rec-000001") != string_id("rec-000002")


def test_sigmoid_loss_treats_duplicates_as_positives():
    audio, text = unit(4, 8, seed=5), unit(4, 8, seed=6)
    scale, bias = torch.tensor(math.log(10.0)), torch.tensor(-10.0)
    loss = sigmoid_loss(audio, text, scale, bias)
    logits = 10.0 * text @ audio.T - 10.0
    labels = 2 * torch.eye(4) - 1
    torch.testing.assert_close(loss, -F.logsigmoid(labels * logits).sum() / 4)
    groups = torch.tensor([1, 1, 2, 3])
    with_duplicates = sigmoid_loss(audio, text, scale, bias, text_group=groups)
    labels[0, 1] = labels[1, 0] = 1
    torch.testing.assert_close(with_duplicates, -F.logsigmoid(labels * logits).sum() / 4)


def test_counterfactual_negatives_join_each_clips_denominator_unless_they_are_its_own_text():
    audio, text = unit(4, 8, seed=7), unit(4, 8, seed=8)
    scale = torch.tensor(math.log(10.0))
    text_group = torch.tensor([1, 2, 3, 4])
    # Negative 0 is a fresh twin; negative 1 is identical to pair 2's own text; negative 2 is a placeholder.
    twin = unit(1, 8, seed=9)[0]
    embeds = torch.stack([twin, text[2], unit(1, 8, seed=10)[0]]).requires_grad_(True)
    negatives = TextNegatives(embeds, torch.tensor([True, True, False]), torch.tensor([9, 3, 0]), text_group)
    loss = contrastive_loss(audio, text, scale, text_group, None, negatives)
    logits = 10.0 * text @ audio.T
    per_clip = torch.cat([logits.T, 10.0 * audio @ embeds.detach().T], dim=1)
    per_clip[2, 5] = float("-inf")  # clip 2's own text is not its negative
    per_clip[:, 6] = float("-inf")  # the placeholder counts for no clip
    expected = (F.cross_entropy(logits, torch.arange(4)) + F.cross_entropy(per_clip, torch.arange(4))) / 2
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert embeds.grad[0].abs().sum() > 0 and embeds.grad[2].abs().sum() == 0
    # A twin closer to a clip than its own text costs more than a far one.
    near = TextNegatives(audio[:1].clone(), torch.tensor([True]), torch.tensor([9]), text_group)
    far = TextNegatives(-audio[:1].clone(), torch.tensor([True]), torch.tensor([9]), text_group)
    assert contrastive_loss(audio, text, scale, negatives=near) > contrastive_loss(audio, text, scale, negatives=far)
    # The sigmoid loss labels the (clip, twin) pairs negative, the masked ones not at all.
    bias = torch.tensor(-1.0)
    sig = sigmoid_loss(audio, text, scale, bias, text_group, None, negatives)
    extra = 10.0 * audio @ embeds.detach().T - 1.0
    keep = torch.tensor([[1.0, 1.0, 0.0]] * 4)
    keep[2, 1] = 0.0
    plain = sigmoid_loss(audio, text, scale, bias, text_group)
    torch.testing.assert_close(sig, plain - (F.logsigmoid(-extra) * keep).sum() / 4)


def test_step_decay_schedule():
    assert step_decay_factor(0, warmup_steps=4) == pytest.approx(0.25)
    assert step_decay_factor(3, warmup_steps=4) == 1.0
    assert step_decay_factor(39_999) == 1.0 and step_decay_factor(40_000) == pytest.approx(0.9)
    assert step_decay_factor(120_000) == pytest.approx(0.9**3)
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    schedule = step_decay_schedule(optimizer, warmup_steps=2, decay_every=5)
    rates = []
    for _ in range(12):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates[:3] == pytest.approx([5e-4, 1e-3, 1e-3]) and rates[5] == pytest.approx(9e-4)
    assert rates[10] == pytest.approx(1e-3 * 0.81)
    with pytest.raises(ValueError, match="decay_every"):
        step_decay_factor(0, decay_every=0)


CONFIGS = Path(__file__).resolve().parents[1] / "examples" / "configs"


def run_step(num_processes: int, out: Path) -> dict:
    accelerate = Path(sys.executable).parent / "accelerate"
    # Through the project's accelerate config files. accelerate 1.15 starts several CPU processes only through
    # torch.distributed.run, which its multi-GPU launcher uses (the 2-process file says so); the script builds
    # Accelerator(cpu=True), so the processes run on the CPU with gloo, and it checks the number of processes.
    config = CONFIGS / ("accelerate_cpu_2proc.yaml" if num_processes == 2 else "accelerate_cpu.yaml")
    command = [str(accelerate), "launch", "--config_file", str(config), str(SCRIPT), str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "EXPECTED_PROCESSES": str(num_processes)}
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-4000:]
    return torch.load(out)


@pytest.mark.parametrize("name", ["cpu", "cpu_2proc", "ddp", "fsdp"])
def test_accelerate_config_files_load(name):
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(CONFIGS / f"accelerate_{name}.yaml"))
    expected = {"cpu": ("NO", 1), "cpu_2proc": ("MULTI_GPU", 2), "ddp": ("MULTI_GPU", 8), "fsdp": ("FSDP", 8)}
    assert (config.distributed_type.value, config.num_processes) == expected[name]
    if name == "fsdp":
        assert config.fsdp_config["fsdp_transformer_layer_cls_to_wrap"] == "ASTLayer,BertLayer"


def test_two_processes_match_one_process_with_the_whole_batch(tmp_path):
    one = run_step(1, tmp_path / "one.pt")
    two = run_step(2, tmp_path / "two.pt")
    assert (one["world_size"], two["world_size"]) == (1, 2)
    torch.testing.assert_close(two["loss"], one["loss"], atol=1e-6, rtol=1e-5)
    assert one["grads"].keys() == two["grads"].keys() and len(one["grads"]) > 20
    for name in one["grads"]:
        torch.testing.assert_close(two["grads"][name], one["grads"][name], atol=1e-6, rtol=1e-4, msg=name)


# ------------------------------------------------------------------------------------------------ training runs

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_run_setup(tmp_path_factory):
    from mulan_hf.data import make_corpus

    folder = tmp_path_factory.mktemp("train")
    make_corpus(folder / "corpus", num_recordings=40, seed=2, seconds=3.0, workers=1, progress=False)
    preset = {
        "audio_config": {
            "hidden_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "intermediate_size": 64,
            "num_mel_bins": 32,
            "max_length": 128,
            "patch_size": 16,
            "frequency_stride": 16,
            "time_stride": 16,
        },
        "text_model": "packaged-minilm",
    }
    (folder / "preset.json").write_text(__import__("json").dumps(preset))
    return folder


def train_command(setup: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        str(ROOT / "examples" / "train.py"),
        "--preset",
        str(setup / "preset.json"),
        "--data",
        str(setup / "corpus"),
        "--output_dir",
        str(out),
        "--batch_size",
        "4",
        "--eval_steps",
        "0",
        "--log_with",
        "",
        *extra,
    ]


def history(out: Path) -> list[dict]:
    import json

    return [json.loads(line) for line in (out / "loss_history.jsonl").read_text().splitlines()]


@pytest.mark.parametrize(("workers", "loss"), [("0", "contrastive"), ("2", "contrastive"), ("0", "sigmoid")])
def test_a_killed_run_resumes_from_its_last_checkpoint(tiny_run_setup, tmp_path, workers, loss):
    """Killed after step 9, resumed from the step-8 checkpoint: step 9 is trained again on the same windows and
    texts with the same weights, so its loss repeats, also when DataLoader workers decode and augment (their
    stream positions are in the checkpoint) and with the sigmoid loss (its learnt bias is in the checkpoint)."""
    import signal
    import time

    out = tmp_path / "run"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    command = train_command(
        tiny_run_setup, out, "--max_steps", "12", "--save_steps", "4", "--num_workers", workers, "--seed", "3",
        "--loss", loss,
    )  # fmt: skip
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 300
    logged = out / "loss_history.jsonl"
    while not (logged.exists() and any(r["step"] >= 9 for r in history(out))):
        assert first.poll() is None, "the run ended before it could be killed"
        assert time.time() < deadline
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    killed = history(out)
    assert 9 <= killed[-1]["step"] < 12 and not (out / "model").exists()
    assert not (out / "checkpoints" / "step-12").exists()

    resumed = subprocess.run(
        [*command, "--resume_from_checkpoint", "latest"], capture_output=True, text=True, timeout=600, env=env
    )
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    records = history(out)[len(killed) :]
    assert [r["step"] for r in records] == [9, 10, 11, 12]  # continues after step 8: no restart, no repeat
    first_run = {r["step"]: r["loss"] for r in killed}
    again = [r for r in records if r["step"] in first_run]
    assert again, "no step was trained by both runs"
    for record in again:  # the same batch through the same weights
        assert record["loss"] == pytest.approx(first_run[record["step"]], rel=1e-4), record
    assert all(np.isfinite(r["loss"]) for r in records)
    assert (out / "model" / "model.safetensors").is_file() and (out / "model" / "README.md").is_file()
    assert "pipeline_tag: zero-shot-audio-classification" in (out / "model" / "README.md").read_text()
    model = MuLanModel.from_pretrained(out / "model")
    if loss == "sigmoid":  # the bias learnt and came back with the model
        assert model.config.logit_bias_init_value == -10.0 and abs(model.logit_bias.item() + 10.0) > 1e-4
    else:
        assert not hasattr(model, "logit_bias")


def test_resnet_preset_with_a_locked_text_tower_trains_and_reports_the_test_split(tiny_run_setup, tmp_path):
    """The default preset's shape in miniature: a ResNet tower over the preset's window, the MiniLM text tower
    locked (its weights stay the packaged ones, the projection learns), audio augmentation and bf16 autocast, a
    sample set held out, the in-distribution and held-out figures in the card, and `--push_to_hub` sending exactly
    the saved folder."""
    import json

    from safetensors.torch import load_file

    from mulan_hf import MuLanModel
    from mulan_hf.packaged import packaged_text_model_path

    preset = {
        "audio_tower": "resnet",
        "audio_config": {
            "num_channels": 1,
            "embedding_size": 8,
            "hidden_sizes": [8, 16],
            "depths": [1, 1],
            "layer_type": "basic",
        },  # fmt: skip
        "feature_extractor": {"num_mel_bins": 32, "window_frames": 100},
        "text_model": "packaged-minilm",
        "training": {
            "lock_text_tower": True,
            "learning_rate": 1e-3,
            "max_steps": 3,
            "holdout_sample_set": "gmbank",
            "augmentation": {},
            "mixed_precision": "bf16",
        },
    }
    (tmp_path / "resnet.json").write_text(json.dumps(preset))
    out = tmp_path / "run"
    command = train_command(tiny_run_setup, out, "--save_steps", "1", "--save_total_limit", "2")
    command[command.index("--preset") + 1] = str(tmp_path / "resnet.json")
    command += ["--push_to_hub", "true", "--hub_model_id", "someone/mulan-tiny"]
    # The push goes to a stand-in for the Hub's HTTP API (tests cannot reach the Hub; tests/hub_stand_in.py).
    with HubStandIn() as hub:
        env = {**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_TOKEN": "hf_stand_in", "HF_HUB_OFFLINE": "0"}
        result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-4000:]
    assert hub.unexpected == []
    pushed = hub.files("someone/mulan-tiny")
    assert pushed == {
        str(p.relative_to(out / "model")): p.read_bytes() for p in (out / "model").rglob("*") if p.is_file()
    }
    assert "pipeline_tag: zero-shot-audio-classification" in pushed["README.md"].decode()
    assert [r["step"] for r in history(out)] == [1, 2, 3]
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-2", "step-3"]  # save_total_limit
    model = MuLanModel.from_pretrained(out / "model")
    assert model.config.audio_tower_type == "resnet"
    packaged = load_file(str(Path(packaged_text_model_path()) / "model.safetensors"))
    layer = "encoder.layer.0.attention.self.query.weight"
    weights = {n: p for n, p in model.text_model.named_parameters()}
    packaged_name = next(n for n in packaged if n.endswith(layer))
    torch.testing.assert_close(weights[layer], packaged[packaged_name])  # locked: unchanged
    init = load_file(str(out / "audio-tower-init" / "model.safetensors"))
    stem = "embedder.embedder.convolution.weight"
    learnt = dict(model.audio_model.named_parameters())[stem]
    assert learnt.shape == init[stem].shape and not torch.equal(learnt, init[stem])  # the audio tower learnt
    card = (out / "model" / "README.md").read_text()
    assert re.search(r"\| test \(\d+ clips\) \| instruments \| [01]\.\d{3} \| [01]\.\d{3} \|", card), card
    assert "## Transfer" in card and re.search(r"\| holdout-gmbank \(4 clips\) \| instruments \| [01]\.\d{3} \|", card)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["holdout"]["holdout-gmbank/clips"] == 4  # the gmbank recordings of validation + test
    assert summary["test"]["test/clips"] == 2  # the test split's other recordings
    processor_config = json.loads((out / "model" / "processor_config.json").read_text())
    assert processor_config["feature_extractor"]["window_frames"] == 100


def test_default_preset_fine_tunes_the_pretrained_musicnn_midend_and_keeps_its_frontend(tiny_run_setup, tmp_path):
    """The default preset (examples/configs/tiny.json) in miniature: the packaged musicnn front-end and the MiniLM
    text tower stay exactly as loaded, every batch norm keeps its pretrained statistics, the mid-end and the
    projections learn, and the saved processor carries musicnn's front-end settings."""
    import json

    from safetensors.torch import load_file

    from mulan_hf import MuLanModel

    preset = json.loads((ROOT / "examples" / "configs" / "tiny.json").read_text())
    preset["feature_extractor"]["window_frames"] = 80
    preset["training"] = {**preset["training"], "max_steps": 2, "augmentation": {}}
    (tmp_path / "musicnn.json").write_text(json.dumps(preset))
    out = tmp_path / "run"
    command = train_command(tiny_run_setup, out, "--save_steps", "1")
    command[command.index("--preset") + 1] = str(tmp_path / "musicnn.json")
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env={**os.environ})
    assert result.returncode == 0, result.stderr[-4000:]
    model = MuLanModel.from_pretrained(out / "model")
    assert model.config.audio_tower_type == "musicnn"
    packaged = load_file(str(out / "audio-tower-init" / "model.safetensors"))
    tower = model.audio_model.state_dict()
    for name, value in tower.items():
        if name.startswith("frontend.") or "running_" in name:  # locked weights and every norm's statistics
            torch.testing.assert_close(value, packaged[f"musicnn.{name}"], msg=name)
    after_one_step = load_file(str(out / "checkpoints" / "step-1" / "model.safetensors"))
    trained = model.state_dict()
    for name in ("audio_projection.weight", "text_projection.weight", "audio_model.midend.convs.0.weight"):
        assert not torch.equal(trained[name], after_one_step[name]), name  # the second step changed them
    processor_config = json.loads((out / "model" / "processor_config.json").read_text())
    extractor = processor_config["feature_extractor"]
    assert (extractor["num_mel_bins"], extractor["mel_scale"], extractor["log_scale"]) == (96, "slaney", "log10_1p")
    # The key and rhythm descriptors: the extractor returns the pitch-class profile the model reads, and the key
    # profiles learn (from the counterfactual mode and tempo negatives too).
    assert model.config.audio_descriptors == ["pitch_class", "rhythm"] and extractor["pitch_class_profile"] is True
    name = "audio_descriptors.key_profiles"
    assert not torch.equal(trained[name], after_one_step[name])


def test_latest_checkpoint_skips_half_written_ones(tmp_path):
    from mulan_hf.training.trainer import latest_checkpoint

    assert latest_checkpoint(tmp_path) is None
    for name, complete in [("step-4", True), ("step-12", True), ("step-8", True), ("step-16.partial", False),
                           ("step-20", False)]:  # fmt: skip
        (tmp_path / "checkpoints" / name).mkdir(parents=True)
        if complete:
            (tmp_path / "checkpoints" / name / "trainer_state.json").write_text("{}")
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoints" / "step-12"  # a kill mid-save leaves these


def test_a_locked_text_towers_states_are_remembered_and_equal_the_towers(tokenizer):
    """TextStateCache answers rows it has seen from memory, with the numbers the tower gives, lets gradients reach
    the text projection, keeps bf16 autocast apart, stands aside when the tower trains, and comes off cleanly."""
    from conftest import make_tiny_model

    from mulan_hf.training.text_cache import TextStateCache

    model = make_tiny_model(tokenizer)
    model.text_model.requires_grad_(False)
    texts = ["a slow piece in a minor key", "piano", "drums and bass, fast"]

    def features(rows):
        batch = tokenizer(rows, padding=True, return_tensors="pt")
        return model.get_text_features(**batch).pooler_output

    with torch.no_grad():
        expected = features(texts + ["organ"])
    cache = TextStateCache().install(model.text_model)
    assert TextStateCache.of(model.text_model) is cache
    with torch.no_grad():
        torch.testing.assert_close(features(texts), expected[:3])
    assert (cache.hits, cache.misses) == (0, 3)
    remembered = features(["organ", texts[1], texts[0]])  # a new row and two remembered ones, other padding
    torch.testing.assert_close(remembered, expected[[3, 1, 0]], rtol=1e-5, atol=1e-5)
    assert (cache.hits, cache.misses) == (2, 4)
    remembered.sum().backward()
    assert model.text_projection.weight.grad is not None and model.text_projection.weight.grad.abs().sum() > 0
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        features(texts)
    assert cache.misses == 7  # bf16 states are not float32 ones
    model.text_model.train()  # dropout: not exact any more, so the tower runs
    with torch.no_grad():
        features(texts)
    assert (cache.hits, cache.misses) == (2, 7)
    cache.uninstall()
    assert TextStateCache.of(model.text_model) is None and "forward" not in vars(model.text_model)


def test_tag_loss_ranks_each_clips_tags_and_each_tags_clips_and_joins_the_caption_loss():
    """The tag loss is lower when clips lie nearer their tags' label texts, ignores clips without tags and labels
    no clip has, and MuLanLoss adds it with its weight (0 leaves the caption loss alone)."""
    from mulan_hf.training import MuLanLoss
    from mulan_hf.training.losses import tag_loss

    labels = F.normalize(torch.eye(4, 8), dim=-1)  # four orthogonal label texts
    targets = torch.tensor([[1, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0]], dtype=torch.float32)  # clip 3: no tags
    scale = torch.tensor(math.log(10.0))
    aligned = F.normalize(targets @ labels + torch.tensor([[0, 0, 0, 0, 1, 0, 0, 0]]) * 0.1, dim=-1)
    shuffled = aligned[[1, 2, 0]]
    assert tag_loss(aligned, labels, targets, scale) < tag_loss(shuffled, labels, targets, scale)
    # Label 4 (no clip has it) and clip 3 (no tags) change nothing in what the positives pull together.
    only = tag_loss(aligned[:2], labels, targets[:2], scale)
    assert torch.isfinite(only) and only > 0
    audio = F.normalize(torch.randn(3, 8), dim=-1)
    text = F.normalize(torch.randn(3, 8), dim=-1)
    plain = MuLanLoss()(audio, text, scale)
    assert MuLanLoss(tag_weight=0.0)(audio, text, scale, label_embeds=labels, tag_targets=targets) == plain
    joined = MuLanLoss(tag_weight=0.5)(audio, text, scale, label_embeds=labels, tag_targets=targets)
    torch.testing.assert_close(joined, plain + 0.5 * tag_loss(audio, labels, targets, scale))
    # Two tag columns (labels 0-2 and 3): each is its own softmax, and the loss is their mean.
    grouped = MuLanLoss()(audio, text, scale, label_embeds=labels, tag_targets=targets, tag_spans=torch.tensor([3, 1]))
    each = [tag_loss(audio, labels[:3], targets[:, :3], scale), tag_loss(audio, labels[3:], targets[:, 3:], scale)]
    torch.testing.assert_close(grouped, plain + (each[0] + each[1]) / 2)
    with pytest.raises(ValueError, match="tag_weight"):
        MuLanLoss(tag_weight=-1.0)


def test_a_resumed_run_takes_its_tag_labels_from_the_checkpoint(processor, tmp_path):
    """The checkpoint keeps the tag loss's labels: a resumed run gets the same labels in the same order without
    reading the training split again (here it could not: the data path does not exist); a run resumed with other
    tag columns reads them afresh (and so fails here)."""
    import json

    from accelerate import Accelerator

    from mulan_hf.training.trainer import MuLanTrainingArguments, find_resume_point, make_loader, save_checkpoint

    nowhere = str(tmp_path / "no-such-dataset")
    labels = {"mode": ["minor", "major"], "tempo": ["slow", "fast"]}
    args = MuLanTrainingArguments(
        output_dir=str(tmp_path / "run"), data=nowhere, tag_columns=["mode", "tempo"], tag_vocabulary=labels
    )
    loader = make_loader([], processor, args, {}, 0)
    save_checkpoint(Accelerator(cpu=True), Path(args.output_dir), {"step": 4}, loader)
    saved_state = json.loads((tmp_path / "run" / "checkpoints" / "step-4" / "trainer_state.json").read_text())
    assert saved_state["tag_vocabulary"] == labels

    resumed = MuLanTrainingArguments(
        output_dir=args.output_dir, data=nowhere, tag_columns=["mode", "tempo"], resume_from_checkpoint="latest"
    )
    checkpoint, state, saved = find_resume_point(resumed)
    assert checkpoint.name == "step-4" and state["step"] == 4
    collator = make_loader([], processor, resumed, saved, 0).collate_fn
    assert collator.tag_vocabulary == ["minor", "major", "slow", "fast"]
    other = MuLanTrainingArguments(
        output_dir=args.output_dir, data=nowhere, tag_columns=["instruments"], resume_from_checkpoint="latest"
    )
    with pytest.raises(Exception, match="no-such-dataset"):
        make_loader([], processor, other, saved, 0)
