"""MuLan configuration: an audio tower, a text tower and a shared projection space."""

import math

from huggingface_hub.dataclasses import strict
from transformers import AutoConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec
from transformers.utils import auto_docstring

from .configuration_musicnn import MusicnnConfig

# Registered here (not only in mulan_hf/__init__) so a saved MuLan with a musicnn tower also loads as remote code.
AutoConfig.register("musicnn", MusicnnConfig, exist_ok=True)

AUDIO_TOWER_TYPES = ("audio-spectrogram-transformer", "resnet", "musicnn")
AUDIO_DESCRIPTORS = ("pitch_class", "rhythm")


@auto_docstring(
    checkpoint="mulan-hf/mulan-tiny",
    custom_intro="Configuration of a [`MuLanModel`]: an audio tower and a text tower that share no weights, each "
    "followed by a linear projection into a common L2-normalised space (Huang et al., ISMIR 2022).",
)
@strict
class MuLanConfig(PreTrainedConfig):
    r"""
    Args:
        audio_config (`PreTrainedConfig` or `dict`, *optional*):
            Config of the audio tower. An `ASTConfig` (default) selects the Audio Spectrogram Transformer, a
            `ResNetConfig` the paper's ResNet-50 over log-mel "images", a `MusicnnConfig` the musicnn CNN (pretrained
            on real music; the CPU preset's tower).
        text_config (`PreTrainedConfig` or `dict`, *optional*):
            Config of the BERT-family text tower (default: `BertConfig`, BERT-base-uncased size).
        projection_dim (`int`, *optional*, defaults to 128):
            Dimension of the shared embedding space.
        logit_scale_init_value (`float`, *optional*, defaults to `log(1 / 0.1)`):
            Initial value of the trainable log inverse temperature (the paper's temperature 0.1).
        logit_bias_init_value (`float`, *optional*):
            `None` (default): no logit bias, the paper's softmax (InfoNCE) loss. A number: the model holds a
            trainable `logit_bias` starting there, added to the logits, and `forward(return_loss=True)` uses
            SigLIP's pairwise sigmoid loss (`--loss sigmoid` sets -10, SigLIP's start). Saved and loaded with the
            model, like the temperature.
        apply_spec_augment (`bool`, *optional*, defaults to `True`):
            Mask time and mel bands of the log-mel input while training (never in eval mode).
        mask_time_prob (`float`, *optional*, defaults to 0.1875):
            Whisper-style time masking: about `mask_time_prob * frames / mask_time_length` spans are masked. The
            defaults are the paper's choice, AST's AudioSet SpecAugment: one time mask of up to 192 frames and one
            mel mask of up to 48 bands per 1024 x 128 window.
        mask_time_length (`int`, *optional*, defaults to 192):
            Longest time mask, in frames (each mask has a random width up to it).
        mask_time_min_masks (`int`, *optional*, defaults to 1):
            Fewest time masks per window.
        mask_feature_prob (`float`, *optional*, defaults to 0.375):
            The same as `mask_time_prob` along the mel axis.
        mask_feature_length (`int`, *optional*, defaults to 48):
            Longest mel mask, in bands.
        mask_feature_min_masks (`int`, *optional*, defaults to 1):
            Fewest mel masks per window.
        audio_pooling (`str`, *optional*, defaults to `"cls"`):
            How the AST tower summarises a window: `"cls"` (the paper: the [CLS] position's final state) or `"mean"`
            (the mean of the patch states, which trains faster from scratch). The ResNet tower always averages.
        window_chunk_size (`int`, *optional*, defaults to 64):
            At most this many 10 s windows go through the audio tower at once, which bounds activation memory
            for hour-long clips.
        audio_descriptors (`list[str]`, *optional*, defaults to `[]`):
            Musical descriptors of each window joined to the audio tower's pooled state before the projection:
            `"pitch_class"` (key and mode: the window's pitch-class profile, from [`MuLanFeatureExtractor`] with
            `pitch_class_profile=True`, correlated with `num_key_profiles` learnt key profiles in all 12
            transpositions; the best and the soft-best match of each profile are kept, so the descriptor does not
            change when the music is transposed) and `"rhythm"` (tempo and metre: the autocorrelation of the log-mel
            onset strength at lags of 1 to `rhythm_max_lag` frames). Tower features pretrained for tagging hear
            timbre well but key and tempo poorly; these give the projection what it needs for them.
        num_key_profiles (`int`, *optional*, defaults to 8):
            Learnt key profiles of the `"pitch_class"` descriptor; the first six start as Albrecht–Shanahan's,
            Temperley's and Krumhansl–Kessler's major and minor profiles (in that order), the rest at random.
        key_descriptor_gain (`float`, *optional*, defaults to 10.0):
            Initial gain of the batch-normalised `"pitch_class"` descriptors (the norm's learnt scale starts here, the
            tower's pooled state and the rhythm descriptor stay at 1): 16 key numbers beside 1,500 tower features
            are otherwise learnt too slowly for mode to reach the embedding in a short run.
        rhythm_max_lag (`int`, *optional*, defaults to 96):
            Longest onset-autocorrelation lag of the `"rhythm"` descriptor, in feature frames (96 × 16 ms = 1.5 s,
            one beat at 40 BPM, with the CPU preset's hop).
        initializer_range (`float`, *optional*):
            Standard deviation of the normal initialisation of MuLan's own linear layers (the two projections).
            `None` (default) scales it to each layer's input, `in_features ** -0.5`, so projected embeddings start
            with about the norm of the tower states whatever their width. The towers initialise themselves from
            their own configs.

    Example:

    ```python
    >>> from transformers import ASTConfig, BertConfig
    >>> from mulan_hf import MuLanConfig, MuLanModel

    >>> config = MuLanConfig(audio_config=ASTConfig(), text_config=BertConfig())  # the paper's AST and BERT towers
    >>> model = MuLanModel(config)
    ```
    """

    model_type = "mulan"
    sub_configs_defaults = {
        "audio_config": SubConfigSpec(config_class=AutoConfig, model_type="audio-spectrogram-transformer"),
        "text_config": SubConfigSpec(config_class=AutoConfig, model_type="bert"),
    }

    audio_config: PreTrainedConfig | dict | None = None
    text_config: PreTrainedConfig | dict | None = None
    projection_dim: int = 128
    logit_scale_init_value: float = math.log(1 / 0.1)
    logit_bias_init_value: float | None = None
    apply_spec_augment: bool = True
    mask_time_prob: float = 0.1875
    mask_time_length: int = 192
    mask_time_min_masks: int = 1
    mask_feature_prob: float = 0.375
    mask_feature_length: int = 48
    mask_feature_min_masks: int = 1
    window_chunk_size: int = 64
    audio_pooling: str = "cls"
    audio_descriptors: list[str] | None = None
    num_key_profiles: int = 8
    key_descriptor_gain: float = 10.0
    rhythm_max_lag: int = 96
    initializer_range: float | None = None

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        if self.audio_config.model_type not in AUDIO_TOWER_TYPES:
            raise ValueError(
                f"audio_config has model_type {self.audio_config.model_type!r}; MuLan's audio tower is one of "
                f"{AUDIO_TOWER_TYPES} (an ASTConfig, a ResNetConfig or a MusicnnConfig)."
            )
        if self.audio_config.model_type == "resnet" and self.audio_config.num_channels != 1:
            # The ResNet tower reads the log-mel spectrogram as a grayscale image.
            self.audio_config.num_channels = 1
        if self.projection_dim <= 0:
            raise ValueError(f"projection_dim must be positive, got {self.projection_dim}.")
        for name in ("mask_time_prob", "mask_feature_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {getattr(self, name)}.")
        if self.audio_pooling not in ("cls", "mean"):
            raise ValueError(f"audio_pooling must be 'cls' or 'mean', got {self.audio_pooling!r}.")
        if self.window_chunk_size <= 0:
            raise ValueError(f"window_chunk_size must be positive, got {self.window_chunk_size}.")
        self.audio_descriptors = list(self.audio_descriptors or [])
        unknown = sorted(set(self.audio_descriptors) - set(AUDIO_DESCRIPTORS))
        if unknown or len(set(self.audio_descriptors)) != len(self.audio_descriptors):
            raise ValueError(
                f"audio_descriptors {self.audio_descriptors} must name each of {AUDIO_DESCRIPTORS} at most once "
                f"(unknown: {unknown})."
            )
        if self.num_key_profiles < 1 or self.rhythm_max_lag < 1:
            raise ValueError(
                f"num_key_profiles ({self.num_key_profiles}) and rhythm_max_lag ({self.rhythm_max_lag}) must be "
                "positive."
            )

    @property
    def audio_tower_type(self) -> str:
        return {"resnet": "resnet", "musicnn": "musicnn"}.get(self.audio_config.model_type, "ast")


# save_pretrained then ships this file as remote code with an `auto_map` entry.
MuLanConfig.register_for_auto_class()

__all__ = ["MuLanConfig"]
