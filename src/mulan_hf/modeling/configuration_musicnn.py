"""Configuration of musicnn (Pons & Serra, "musicnn: pre-trained convolutional neural networks for music audio
tagging", ISMIR 2019 LBD), a music-tagging CNN pretrained on real recordings that MuLan can use as its audio tower."""

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

# The 50 MagnaTagATune tags of the published MTT_musicnn checkpoint, in the order of its output layer.
MTT_LABELS = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast", "piano", "ambient",
    "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male", "singing", "vocals", "no vocals",
    "harpsichord", "loud", "quiet", "flute", "woman", "male vocal", "no vocal", "pop", "soft", "sitar", "solo", "man",
    "classic", "choir", "voice", "new age", "dance", "male voice", "female vocal", "beats", "harp", "cello",
    "no voice", "weird", "country", "metal", "female voice", "choral",
)  # fmt: skip


@strict
class MusicnnConfig(PreTrainedConfig):
    r"""
    Configuration of a [`MusicnnModel`]: a musically motivated front-end (timbral filters spanning 40 % and 70 % of
    the mel axis over 7 frames, temporal filters of 128, 64 and 32 frames over each band), each max-pooled over
    frequency; a mid-end of three 1-D convolutions with residual connections; temporal max- and mean-pooling of all
    their frames. The defaults are the published MTT_musicnn model, which reads 96-band log-mel frames of 16 ms
    (`log10(1 + 10000 * mel power)`, 512-point FFT, 256-sample hop at 16 kHz) and was trained on 3 s patches.

    Args:
        num_mel_bins (`int`, *optional*, defaults to 96): mel bands of the input.
        timbral_filters (`int`, *optional*, defaults to 204): filters of each timbral front-end branch.
        timbral_heights (`list[float]`, *optional*, defaults to `[0.4, 0.7]`): each timbral branch's filter height
            as a fraction of `num_mel_bins`.
        timbral_frames (`int`, *optional*, defaults to 7): frames each timbral filter spans.
        temporal_filters (`int`, *optional*, defaults to 51): filters of each temporal front-end branch.
        temporal_frames (`list[int]`, *optional*, defaults to `[128, 64, 32]`): frames each temporal branch spans.
        midend_filters (`int`, *optional*, defaults to 64): channels of the mid-end convolutions.
        midend_layers (`int`, *optional*, defaults to 3): mid-end convolutions (7 frames each).
        backend_units (`int`, *optional*, defaults to 200): hidden units of the tagging head.
        batch_norm_eps (`float`, *optional*, defaults to 1e-3): epsilon of every batch normalisation.
        frontend_chunk_size (`int`, *optional*, defaults to 4): windows per front-end pass. Its activations
            (windows x filters x frames x mel positions) are the model's largest; a few windows at a time keep them
            in cache (1.6x faster for 16 windows on 2 CPU cores, measured). `None`: all windows in one pass (what a
            graph export with a dynamic window count needs).
    """

    model_type = "musicnn"

    num_mel_bins: int = 96
    timbral_filters: int = 204
    timbral_heights: list[float] | tuple[float, ...] = (0.4, 0.7)
    timbral_frames: int = 7
    temporal_filters: int = 51
    temporal_frames: list[int] | tuple[int, ...] = (128, 64, 32)
    midend_filters: int = 64
    midend_layers: int = 3
    backend_units: int = 200
    batch_norm_eps: float = 1e-3
    frontend_chunk_size: int | None = 4
    initializer_range: float = 0.02

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        self.timbral_heights = list(self.timbral_heights)
        self.temporal_frames = list(self.temporal_frames)
        for height in self.timbral_heights:
            if not 0.0 < height <= 1.0 or int(height * self.num_mel_bins) < 1:
                raise ValueError(f"timbral_heights must lie in (0, 1] of the {self.num_mel_bins} mel bands: {height}")
        if self.frontend_chunk_size is not None and self.frontend_chunk_size < 1:
            raise ValueError(f"frontend_chunk_size must be at least 1, got {self.frontend_chunk_size}.")
        if self.midend_layers < 1:
            raise ValueError(f"midend_layers must be at least 1, got {self.midend_layers}.")

    @property
    def frontend_size(self) -> int:
        """Channels of the front-end's frames (both timbral and all temporal branches)."""
        return len(self.timbral_heights) * self.timbral_filters + len(self.temporal_frames) * self.temporal_filters

    @property
    def hidden_size(self) -> int:
        """Channels of each frame of `last_hidden_state`: the front-end and every mid-end layer, concatenated."""
        return self.frontend_size + self.midend_layers * self.midend_filters

    @property
    def pooled_size(self) -> int:
        """Size of `pooler_output`: the temporal max and mean of every channel."""
        return 2 * self.hidden_size


__all__ = ["MTT_LABELS", "MusicnnConfig"]
