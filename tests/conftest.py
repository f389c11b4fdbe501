"""Shared fixtures: tiny configs, the real MiniLM WordPiece tokenizer, rendered music. Everything runs offline."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach the Hub
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import pytest
import torch
from transformers import ASTConfig, AutoTokenizer, BertConfig

import mulan_hf
from mulan_hf import MuLanConfig, MuLanFeatureExtractor, MuLanModel, MuLanProcessor, packaged
from mulan_hf.packaged import packaged_text_model_path

SAMPLING_RATE = 16000
TINY_MEL_BINS = 32
TINY_WINDOW_FRAMES = 128  # 1.28 s windows keep the tests fast


def tiny_ast_config(**overrides) -> ASTConfig:
    sizes = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
    return packaged.tiny_ast_config(TINY_MEL_BINS, TINY_WINDOW_FRAMES, **{**sizes, **overrides})


def tiny_bert_config(vocab_size: int) -> BertConfig:
    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )


@pytest.fixture(scope="session")
def minilm_path() -> str:
    return packaged_text_model_path()


@pytest.fixture(scope="session")
def tokenizer(minilm_path):
    return AutoTokenizer.from_pretrained(minilm_path)


@pytest.fixture(scope="session")
def feature_extractor() -> MuLanFeatureExtractor:
    return MuLanFeatureExtractor(num_mel_bins=TINY_MEL_BINS, window_frames=TINY_WINDOW_FRAMES)


@pytest.fixture(scope="session")
def processor(feature_extractor, tokenizer) -> MuLanProcessor:
    return MuLanProcessor(feature_extractor, tokenizer)


def make_tiny_model(tokenizer, seed: int = 0, **config_overrides) -> MuLanModel:
    torch.manual_seed(seed)
    config = MuLanConfig(
        audio_config=tiny_ast_config(),
        text_config=tiny_bert_config(tokenizer.vocab_size),
        **config_overrides,
    )
    return MuLanModel(config).eval()


@pytest.fixture
def tiny_model(tokenizer) -> MuLanModel:
    return make_tiny_model(tokenizer)


@pytest.fixture(scope="session")
def saved_model_dir(tmp_path_factory, tokenizer, processor) -> str:
    """A tiny MuLan with its processor, saved as users would find it on the Hub."""
    path = tmp_path_factory.mktemp("mulan-tiny")
    make_tiny_model(tokenizer, seed=1).save_pretrained(path)
    processor.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="session")
def music() -> dict[str, np.ndarray]:
    """Four rendered pieces (piano, drums, violin, brass), 4 s each at 16 kHz."""
    from mulan_hf.data import example_pieces, render

    return {name: render(parts, 4.0, SAMPLING_RATE) for name, (parts, _) in example_pieces(4.0).items()}


def tone(frequency: float, seconds: float, sampling_rate: int = SAMPLING_RATE, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * sampling_rate)) / sampling_rate
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


assert mulan_hf.MuLanModel is MuLanModel
