"""MuLan: a two-tower joint embedding of music audio and natural language (Huang et al., ISMIR 2022).

The audio tower is transformers' Audio Spectrogram Transformer or a ResNet over the log-mel "image"; the text
tower any BERT-family encoder. Each ends in a linear projection to a shared L2-normalised space, and a symmetric
contrastive loss with a trainable temperature pulls matching (audio, text) pairs together.

This file imports only from transformers, torch and its own folder, so `save_pretrained` can ship it as remote code.
"""

import inspect
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoModel, PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import BaseModelOutputWithPooling
from transformers.utils import ModelOutput, auto_docstring, can_return_tuple, logging

from .configuration_mulan import MuLanConfig
from .modeling_musicnn import MusicnnModel

logger = logging.get_logger(__name__)


def _diagonal_cross_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Cross-entropy where row i's target is column i (the paired item)."""
    return F.cross_entropy(logits, torch.arange(logits.shape[0], device=logits.device))


def mulan_loss(logits_per_text: torch.Tensor) -> torch.Tensor:
    """The paper's symmetric Contrastive Multiview Coding (InfoNCE) loss over one process's batch of pairs (what
    `forward(return_loss=True)` returns; training uses `mulan_hf.training.MuLanLoss`, the same loss over the global
    batch with duplicate pairs masked)."""
    return (_diagonal_cross_entropy(logits_per_text) + _diagonal_cross_entropy(logits_per_text.t())) / 2.0


def pairwise_sigmoid_loss(logits_per_text: torch.Tensor) -> torch.Tensor:
    """SigLIP's loss over a batch of pairs: each (text, clip) logit is a binary decision, true on the diagonal."""
    labels = 2 * torch.eye(logits_per_text.shape[0], device=logits_per_text.device, dtype=logits_per_text.dtype) - 1
    return -F.logsigmoid(labels * logits_per_text).sum() / logits_per_text.shape[0]


def spec_augment_mask(
    shape: tuple[int, int],
    mask_prob: float,
    mask_length: int,
    min_masks: int,
    device: torch.device,
) -> torch.Tensor:
    """Boolean mask of shape `shape` (items, axis length): per item, about `mask_prob * length / mask_length`
    spans (at least `min_masks`), each of a random width in [0, mask_length] as in AST's SpecAugment."""
    num_items, length = shape
    mask_length = min(mask_length, length)
    num_spans = max(min_masks, round(mask_prob * length / max(mask_length, 1)))
    if num_spans == 0 or mask_length == 0:
        return torch.zeros(shape, dtype=torch.bool, device=device)
    widths = torch.randint(0, mask_length + 1, (num_items, num_spans, 1), device=device)
    starts = (torch.rand(num_items, num_spans, 1, device=device) * (length - widths + 1)).long()
    positions = torch.arange(length, device=device)
    return ((positions >= starts) & (positions < starts + widths)).any(dim=1)


def average_window_embeddings(window_embeds: torch.Tensor, window_mask: torch.Tensor) -> torch.Tensor:
    """Mean of the valid windows' embeddings (batch, windows, dim) → (batch, dim), normalised again."""
    weights = window_mask.to(window_embeds.dtype).unsqueeze(-1)
    summed = (window_embeds * weights).sum(dim=1)
    return F.normalize(summed / weights.sum(dim=1).clamp(min=1.0), dim=-1)


# Key profiles of the 12 pitch classes (C first) in C major and C minor, the starting points of the learnt ones, in
# the order of how well they told major from minor on the corpus's test split (pitch-class profiles of the feature
# extractor, best transposition of each; per 3.07 s window / per clip, ROC-AUC): Albrecht & Shanahan's corpus
# distributions (2013) 0.752 / 0.887, Temperley's (1999) 0.728 / 0.828, Krumhansl & Kessler's probe-tone ratings
# (1982) 0.673 / 0.760.
KEY_PROFILE_STARTS = (
    (0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081),  # Albrecht–Shanahan major
    (0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052),  # Albrecht–Shanahan minor
    (5.0, 2.0, 3.5, 2.0, 4.5, 4.0, 2.0, 4.5, 2.0, 3.5, 1.5, 4.0),  # Temperley major
    (5.0, 2.0, 3.5, 4.5, 2.0, 4.0, 2.0, 4.5, 3.5, 2.0, 1.5, 4.0),  # Temperley minor
    (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88),  # Krumhansl–Kessler major
    (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17),  # Krumhansl–Kessler minor
)


def _centred_unit(x: torch.Tensor) -> torch.Tensor:
    x = x - x.mean(dim=-1, keepdim=True)
    return x / x.norm(dim=-1, keepdim=True).clamp(min=1e-6)


class MuLanAudioDescriptors(nn.Module):
    """Key/mode and tempo descriptors of each window (`config.audio_descriptors`), batch-normalised, for the audio
    projection to read beside the tower's pooled state.

    - `"pitch_class"`: the window's pitch-class profile is correlated with each learnt key profile in all 12
      transpositions; the best correlation and a soft maximum (temperature 0.1) per profile are kept. A transposed
      piece gives the same descriptor, so what is learnt is the shape of a key (major or minor), not its tonic.
    - `"rhythm"`: the autocorrelation of the onset strength (the mean over mel bands of the positive log-mel
      change between frames), normalised by its value at lag 0, at lags 1..`rhythm_max_lag` frames.
    """

    def __init__(self, config: MuLanConfig):
        super().__init__()
        self.kinds = tuple(config.audio_descriptors)
        self.max_lag = config.rhythm_max_lag
        size = 0
        if "pitch_class" in self.kinds:
            self.key_profiles = nn.Parameter(torch.zeros(config.num_key_profiles, 12))
            size += 2 * config.num_key_profiles
        if "rhythm" in self.kinds:
            size += self.max_lag
        self.size = size
        self.norm = nn.BatchNorm1d(size)

    def key_features(self, pitch_class_profile: torch.Tensor) -> torch.Tensor:
        """(windows, 12) → (windows, 2 * num_key_profiles), unchanged by a circular shift of the 12 classes."""
        profiles = _centred_unit(self.key_profiles.float())
        transposed = torch.stack([profiles.roll(shift, dims=-1) for shift in range(12)], dim=1)  # (K, 12, 12)
        correlation = torch.einsum("nc,ktc->nkt", _centred_unit(pitch_class_profile.float()), transposed)
        return torch.cat([correlation.amax(dim=-1), torch.logsumexp(10.0 * correlation, dim=-1) / 10.0], dim=-1)

    def rhythm_features(self, windows: torch.Tensor) -> torch.Tensor:
        """(windows, frames, mel) log-mel → (windows, rhythm_max_lag) onset autocorrelation (zeros past the
        window's own length)."""
        onset = torch.relu(windows.float().diff(dim=1)).mean(dim=-1)
        onset = onset - onset.mean(dim=-1, keepdim=True)
        frames = onset.shape[1]
        power = torch.fft.rfft(onset, n=2 * frames).abs().square()
        lags = torch.fft.irfft(power, n=2 * frames)[:, :frames]
        lags = lags / torch.arange(frames, 0, -1, device=lags.device)  # mean over the overlapping frames
        lags = lags[:, 1 : self.max_lag + 1] / lags[:, :1].clamp(min=1e-6)
        return F.pad(lags, (0, self.max_lag - lags.shape[1]))

    def forward(self, windows: torch.Tensor, pitch_class_profile: torch.Tensor | None) -> torch.Tensor:
        with torch.autocast(windows.device.type, enabled=False):  # FFTs and correlations in float32
            parts = []
            if "pitch_class" in self.kinds:
                parts.append(self.key_features(pitch_class_profile))
            if "rhythm" in self.kinds:
                parts.append(self.rhythm_features(windows))
            # Computed in float32; normalised in the weights' dtype (a model loaded with dtype=torch.bfloat16).
            return self.norm(torch.cat(parts, dim=-1).to(self.norm.weight.dtype))


def _tower_kwargs(config) -> dict[str, Any]:
    """BERT/RoBERTa-style towers get `add_pooling_layer=False`: MuLan reads the [CLS] state, and an unused
    pooler would leave parameters without gradients (which DistributedDataParallel rejects)."""
    model_class = AutoModel._model_mapping.get(type(config), None)
    if model_class is not None and "add_pooling_layer" in inspect.signature(model_class.__init__).parameters:
        return {"add_pooling_layer": False}
    return {}


def _remove_resnet_stem_stride(resnet: nn.Module) -> None:
    """The paper removes the stride of 2 in the first convolution, keeping time resolution on log-mel input."""
    resnet.embedder.embedder.convolution.stride = (1, 1)


def resize_ast_position_embeddings(ast_model: nn.Module, max_length: int) -> None:
    """Give an AST tower a different window length (frames) while keeping its learnt position embeddings:
    the patch-grid embeddings are interpolated bilinearly over (frequency, time), as ViT/AST ports do."""
    config = ast_model.config
    embeddings = ast_model.embeddings
    old_freq, old_time = embeddings.get_shape(config)
    config.max_length = max_length
    new_freq, new_time = embeddings.get_shape(config)
    if new_time <= 0:
        raise ValueError(f"max_length={max_length} frames is shorter than one AST patch ({config.patch_size}).")
    old = embeddings.position_embeddings.data
    special, grid = old[:, :2], old[:, 2:]
    grid = grid.reshape(1, old_freq, old_time, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(new_freq, new_time), mode="bilinear", align_corners=False)
    grid = grid.permute(0, 2, 3, 1).reshape(1, new_freq * new_time, -1)
    embeddings.position_embeddings = nn.Parameter(torch.cat([special, grid], dim=1))


def _single_channel_resnet_stem(resnet: nn.Module) -> None:
    """Fold an RGB ResNet's stem into one input channel (sum over channels) so ImageNet/AudioSet ResNets warm-start
    a tower that reads the log-mel spectrogram as a grayscale image."""
    conv = resnet.embedder.embedder.convolution
    if conv.in_channels == 1:
        return
    # Edited in place: the module keeps its "already initialised" mark, so post_init leaves the weights alone.
    conv.weight = nn.Parameter(conv.weight.detach().sum(dim=1, keepdim=True))
    conv.in_channels = 1
    resnet.embedder.num_channels = 1
    resnet.config.num_channels = 1


@dataclass
@auto_docstring
class MuLanOutput(ModelOutput):
    r"""
    loss (`torch.FloatTensor` of shape `(1,)`, *optional*, returned when `return_loss` is `True`):
        Symmetric contrastive loss of the audio–text pairs in the batch.
    logits_per_audio (`torch.FloatTensor` of shape `(audio_batch_size, text_batch_size)`):
        Scaled cosine similarities between each clip and each text.
    logits_per_text (`torch.FloatTensor` of shape `(text_batch_size, audio_batch_size)`):
        The transpose of `logits_per_audio`.
    text_embeds (`torch.FloatTensor` of shape `(text_batch_size, projection_dim)`):
        L2-normalised text embeddings.
    audio_embeds (`torch.FloatTensor` of shape `(audio_batch_size, projection_dim)`):
        L2-normalised clip embeddings (window embeddings averaged over `window_mask`).
    text_model_output (`BaseModelOutputWithPooling`):
        The text tower's output.
    audio_model_output (`BaseModelOutputWithPooling`):
        The audio tower's output; `last_hidden_state` is `(batch, windows, tokens, hidden)`.
    """

    # ClapOutput's field order, so positional (return_dict=False) code written for CLAP reads the same fields.
    loss: torch.FloatTensor | None = None
    logits_per_audio: torch.FloatTensor | None = None
    logits_per_text: torch.FloatTensor | None = None
    text_embeds: torch.FloatTensor | None = None
    audio_embeds: torch.FloatTensor | None = None
    text_model_output: BaseModelOutputWithPooling | None = None
    audio_model_output: BaseModelOutputWithPooling | None = None

    def to_tuple(self) -> tuple[Any, ...]:
        return tuple(
            self[k] if k not in ("audio_model_output", "text_model_output") else getattr(self, k).to_tuple()
            for k in self.keys()
        )


@auto_docstring
class MuLanPreTrainedModel(PreTrainedModel):
    config: MuLanConfig
    base_model_prefix = "mulan"
    input_modalities = ("audio", "text")
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _supports_flash_attn = True

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        # transformers' generic rules first (norms, embeddings, ...); then MuLan's own parameters. The towers are
        # PreTrainedModels and initialise themselves.
        super()._init_weights(module)
        if isinstance(module, MuLanModel):
            init.constant_(module.logit_scale, self.config.logit_scale_init_value)
            if getattr(module, "logit_bias", None) is not None:
                init.constant_(module.logit_bias, self.config.logit_bias_init_value)
        elif isinstance(module, MuLanAudioDescriptors) and hasattr(module, "key_profiles"):
            profiles = torch.randn(module.key_profiles.shape, generator=torch.Generator().manual_seed(0))
            starts = min(len(profiles), len(KEY_PROFILE_STARTS))
            # Centred and scaled to the random profiles' size: Adam moves every entry by about the same amount,
            # so a profile stored in small numbers (Albrecht–Shanahan's sum to 1) would be relearnt from scratch.
            profiles[:starts] = 4.0 * _centred_unit(torch.tensor(KEY_PROFILE_STARTS[:starts]))
            init.copy_(module.key_profiles, profiles.to(module.key_profiles.device))
            gain = torch.ones_like(module.norm.weight)
            gain[: 2 * len(profiles)] = self.config.key_descriptor_gain  # the key numbers come first
            init.copy_(module.norm.weight, gain)
        elif isinstance(module, nn.Linear):
            std = self.config.initializer_range or module.in_features**-0.5
            init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                init.zeros_(module.bias)


@auto_docstring
class MuLanModel(MuLanPreTrainedModel):
    def __init__(
        self,
        config: MuLanConfig,
        audio_model: PreTrainedModel | None = None,
        text_model: PreTrainedModel | None = None,
    ):
        r"""
        audio_model (`PreTrainedModel`, *optional*):
            A ready audio tower (e.g. a pretrained `ASTModel`); built from `config.audio_config` when omitted.
        text_model (`PreTrainedModel`, *optional*):
            A ready text tower (e.g. a pretrained `BertModel`); built from `config.text_config` when omitted.
        """
        # PreTrainedModel.__init__ resets the attention implementation of the (shared) sub-configs: remember the
        # one each ready-made tower was loaded with.
        given_attention = {id(t): t.config._attn_implementation for t in (audio_model, text_model) if t is not None}
        super().__init__(config)
        if audio_model is None and config.audio_config.model_type == "musicnn":
            # Built directly: as remote code, this folder's MusicnnConfig is not in transformers' AutoModel mapping.
            audio_model = MusicnnModel(config.audio_config)
        elif audio_model is None:
            audio_model = AutoModel.from_config(config.audio_config, **_tower_kwargs(config.audio_config))
        if text_model is None:
            text_model = AutoModel.from_config(config.text_config, **_tower_kwargs(config.text_config))
        self.audio_model = audio_model
        self.text_model = text_model
        # One config object per tower, shared with the composite config so edits stay in sync; it keeps the
        # attention implementation the tower was built or loaded with (SDPA by default).
        for tower, tower_config in ((audio_model, config.audio_config), (text_model, config.text_config)):
            tower_config._attn_implementation = given_attention.get(id(tower), tower.config._attn_implementation)
            tower.config = tower_config

        self.is_resnet = config.audio_tower_type == "resnet"
        if self.is_resnet:
            _remove_resnet_stem_stride(self.audio_model)
            audio_hidden_size = config.audio_config.hidden_sizes[-1]
        elif config.audio_tower_type == "musicnn":
            audio_hidden_size = config.audio_config.pooled_size
        else:
            audio_hidden_size = config.audio_config.hidden_size

        self.audio_descriptors = MuLanAudioDescriptors(config) if config.audio_descriptors else None
        if self.audio_descriptors is not None:
            audio_hidden_size += self.audio_descriptors.size
        self.audio_projection = nn.Linear(audio_hidden_size, config.projection_dim)
        self.text_projection = nn.Linear(config.text_config.hidden_size, config.projection_dim)
        self.logit_scale = nn.Parameter(torch.tensor(config.logit_scale_init_value))
        if config.logit_bias_init_value is not None:  # SigLIP's sigmoid loss
            self.logit_bias = nn.Parameter(torch.tensor(float(config.logit_bias_init_value)))

        self.post_init()

    # ----------------------------------------------------------------------------------------------- audio tower

    def _check_pitch_class_profile(self, pitch_class_profile: torch.Tensor | None, window_mask: torch.Tensor) -> None:
        if "pitch_class" not in self.config.audio_descriptors:
            return
        if pitch_class_profile is None:
            raise ValueError(
                "This model reads each window's pitch_class_profile (config.audio_descriptors has 'pitch_class'), "
                "but none was given. Use the MuLanFeatureExtractor saved with this model (pitch_class_profile=True) "
                "and pass all of its outputs."
            )
        if pitch_class_profile.shape != (*window_mask.shape, 12):
            raise ValueError(
                f"pitch_class_profile has shape {tuple(pitch_class_profile.shape)}; expected (batch, windows, 12) = "
                f"{(*window_mask.shape, 12)} from the same feature-extractor call as input_features."
            )

    def _check_audio_inputs(
        self, input_features: torch.Tensor, window_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not isinstance(input_features, torch.Tensor):
            raise TypeError(f"input_features must be a torch.Tensor, got {type(input_features).__name__}.")
        if input_features.ndim == 3:  # (batch, frames, mel): one window per clip
            input_features = input_features.unsqueeze(1)
        if input_features.ndim != 4:
            raise ValueError(
                "input_features must have shape (batch, windows, frames, mel_bins) as MuLanFeatureExtractor returns; "
                f"got {tuple(input_features.shape)}."
            )
        batch_size, num_windows, frames, mel_bins = input_features.shape
        tower = self.config.audio_tower_type
        if tower == "musicnn" and mel_bins != self.config.audio_config.num_mel_bins:
            raise ValueError(
                f"input_features have {mel_bins} mel bins, but the musicnn tower expects "
                f"{self.config.audio_config.num_mel_bins}. Use the MuLanFeatureExtractor saved with this model."
            )
        if tower == "ast":
            expected = (self.config.audio_config.max_length, self.config.audio_config.num_mel_bins)
            if (frames, mel_bins) != expected:
                raise ValueError(
                    f"input_features windows are {frames} frames x {mel_bins} mel bins, but the AST tower expects "
                    f"exactly {expected[0]} x {expected[1]} (audio_config.max_length, audio_config.num_mel_bins). "
                    "Use the MuLanFeatureExtractor saved with this model."
                )
        if window_mask is None:
            window_mask = torch.ones(batch_size, num_windows, dtype=torch.long, device=input_features.device)
        if window_mask.shape != (batch_size, num_windows):
            raise ValueError(
                f"window_mask has shape {tuple(window_mask.shape)} but input_features has {batch_size} clips of "
                f"{num_windows} windows; they come from the same feature-extractor call."
            )
        if not bool(window_mask.bool().any(dim=1).all()):
            raise ValueError("Every clip needs at least one valid window: a row of window_mask is all zeros.")
        finite = torch.isfinite(input_features).flatten(2).all(dim=-1)  # (batch, windows)
        if not bool(finite.all()):
            where = [tuple(index) for index in (~finite).nonzero().tolist()[:5]]
            raise ValueError(
                f"input_features hold NaN or Inf in {int((~finite).sum())} window(s) (clip, window): {where}. "
                "The audio or the features were corrupted before the model: check the clip's samples (the "
                "feature extractor refuses non-finite audio) and any processing applied to the features."
            )
        return input_features, window_mask

    def _spec_augment(self, windows: torch.Tensor) -> torch.Tensor:
        """SpecAugment on (windows, frames, mel) log-mels; training mode only."""
        if not (self.training and self.config.apply_spec_augment):
            return windows
        num, frames, mel_bins = windows.shape
        cfg = self.config
        time_mask = spec_augment_mask(
            (num, frames), cfg.mask_time_prob, cfg.mask_time_length, cfg.mask_time_min_masks, windows.device
        )
        mel_mask = spec_augment_mask(
            (num, mel_bins), cfg.mask_feature_prob, cfg.mask_feature_length, cfg.mask_feature_min_masks, windows.device
        )
        keep = ~(time_mask.unsqueeze(-1) | mel_mask.unsqueeze(1))
        return windows * keep.to(windows.dtype)

    def _run_audio_tower(self, windows: torch.Tensor, **kwargs) -> tuple[torch.Tensor, torch.Tensor, ModelOutput]:
        """(windows, frames, mel) → (pooled state per window, token states per window, the tower's output).
        `output_hidden_states` reaches every tower; `output_attentions` and other kwargs only the AST (the CNNs have
        no attention)."""
        hidden = {"output_hidden_states": kwargs.pop("output_hidden_states", None)}
        if self.is_resnet:
            output = self.audio_model(pixel_values=windows.unsqueeze(1), **hidden)
            pooled = output.pooler_output.flatten(1)  # mean over time and mel
            tokens = output.last_hidden_state.flatten(2).transpose(1, 2)
        elif self.config.audio_tower_type == "musicnn":
            output = self.audio_model(input_features=windows, **hidden)
            pooled, tokens = output.pooler_output, output.last_hidden_state  # pooled: temporal max and mean
        else:
            output = self.audio_model(input_values=windows, **hidden, **kwargs)
            tokens = output.last_hidden_state
            # The [CLS] position, as in the paper, or the mean of the patch states (after the 2 special tokens).
            pooled = tokens[:, 0] if self.config.audio_pooling == "cls" else tokens[:, 2:].mean(dim=1)
        return pooled, tokens, output

    @staticmethod
    def _per_clip(states: torch.Tensor, valid: torch.Tensor, batch_size: int, num_windows: int) -> torch.Tensor:
        """(valid windows, ...) → (batch, windows, ...), zeros for padding windows."""
        if not bool(valid.all()):
            padded = states.new_zeros(batch_size * num_windows, *states.shape[1:])
            padded[valid] = states
            states = padded
        return states.view(batch_size, num_windows, *states.shape[1:])

    def window_embeddings(
        self, windows: torch.Tensor, pitch_class_profile: torch.Tensor | None = None, chunk: int | None = None, **kwargs
    ) -> tuple[torch.Tensor, torch.Tensor, tuple[ModelOutput, ...]]:
        """(windows, frames, mel) log-mels (and their (windows, 12) profiles) → (L2-normalised (windows, dim)
        embeddings, token states, the tower's outputs per chunk of `chunk` windows). No checks and no masking:
        `get_audio_features` feeds it the valid windows; the ONNX export feeds it every window and masks after."""
        windows = windows.to(self.audio_projection.weight.dtype)
        descriptors = None
        if self.audio_descriptors is not None:  # from the unmasked windows: SpecAugment's masks are not onsets
            descriptors = self.audio_descriptors(windows, pitch_class_profile)
        windows = self._spec_augment(windows)
        parts = windows.split(chunk) if chunk else (windows,)
        pooled_chunks, token_chunks, outputs = zip(*(self._run_audio_tower(part, **kwargs) for part in parts))
        pooled, tokens = torch.cat(pooled_chunks), torch.cat(token_chunks)
        if descriptors is not None:
            pooled = torch.cat([pooled, descriptors.to(pooled.dtype)], dim=-1)
        return F.normalize(self.audio_projection(pooled), dim=-1), tokens, outputs

    @can_return_tuple
    @auto_docstring
    def get_audio_features(
        self,
        input_features: torch.Tensor,
        window_mask: torch.Tensor | None = None,
        pitch_class_profile: torch.Tensor | None = None,
        **kwargs,
    ) -> tuple | BaseModelOutputWithPooling:
        r"""
        input_features (`torch.FloatTensor` of shape `(batch_size, windows, frames, mel_bins)`):
            Log-mel windows from [`MuLanFeatureExtractor`]; a 3-D `(batch_size, frames, mel_bins)` tensor is taken as
            one window per clip.
        window_mask (`torch.LongTensor` of shape `(batch_size, windows)`, *optional*):
            1 for real windows, 0 for padding windows of shorter clips. Defaults to all windows valid.
        pitch_class_profile (`torch.FloatTensor` of shape `(batch_size, windows, 12)`, *optional*):
            Each window's pitch-class profile from [`MuLanFeatureExtractor`] (`pitch_class_profile=True`); required
            when `config.audio_descriptors` has `"pitch_class"`.

        Returns:
            `BaseModelOutputWithPooling` whose `pooler_output` is the L2-normalised `(batch_size, projection_dim)`
            clip embedding (mean of the valid windows' embeddings, normalised again) and whose `last_hidden_state` is
            `(batch_size, windows, tokens, hidden)` with zeros for padding windows. With `output_hidden_states=True`
            its `hidden_states` are the audio tower's, one `(batch_size, windows, ...)` tensor per layer (zeros for
            padding windows); with `output_attentions=True` (AST tower) its `attentions` likewise.
        """
        input_features, window_mask = self._check_audio_inputs(input_features, window_mask)
        self._check_pitch_class_profile(pitch_class_profile, window_mask)
        batch_size, num_windows = window_mask.shape
        valid = window_mask.reshape(-1).bool()
        windows = input_features.reshape(batch_size * num_windows, *input_features.shape[2:])[valid]
        profile = None if pitch_class_profile is None else pitch_class_profile.reshape(-1, 12)[valid]
        # Without gradients, run long clips through the tower a chunk of windows at a time to bound memory.
        chunk = windows.shape[0] if torch.is_grad_enabled() else self.config.window_chunk_size
        window_embeds, tokens, outputs = self.window_embeddings(windows, profile, chunk, **kwargs)

        def per_clip(name: str) -> tuple[torch.Tensor, ...] | None:
            layers = getattr(outputs[0], name, None)
            if layers is None:
                return None
            return tuple(
                self._per_clip(torch.cat([getattr(o, name)[i] for o in outputs]), valid, batch_size, num_windows)
                for i in range(len(layers))
            )

        all_window_embeds = self._per_clip(window_embeds, valid, batch_size, num_windows)
        return BaseModelOutputWithPooling(
            last_hidden_state=self._per_clip(tokens, valid, batch_size, num_windows),
            pooler_output=average_window_embeddings(all_window_embeds, window_mask),
            hidden_states=per_clip("hidden_states"),
            attentions=per_clip("attentions"),
        )

    # ------------------------------------------------------------------------------------------------ text tower

    def get_input_embeddings(self) -> nn.Module:
        """The text tower's token embeddings (as CLIP and CLAP: the only input embeddings a MuLan model has)."""
        return self.text_model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.text_model.set_input_embeddings(value)

    @can_return_tuple
    @auto_docstring
    def get_text_features(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        **kwargs,
    ) -> tuple | BaseModelOutputWithPooling:
        r"""
        Returns:
            `BaseModelOutputWithPooling` whose `pooler_output` is the L2-normalised `(batch_size, projection_dim)`
            projection of the [CLS] state.
        """
        if not isinstance(input_ids, torch.Tensor) or input_ids.ndim != 2:
            raise ValueError(
                "input_ids must be a (batch_size, sequence_length) tensor of token ids from the tokenizer; got "
                f"{type(input_ids).__name__}{tuple(getattr(input_ids, 'shape', ()))}."
            )
        for name, tensor in (("attention_mask", attention_mask), ("token_type_ids", token_type_ids)):
            if tensor is not None and tensor.shape != input_ids.shape:
                raise ValueError(f"{name} has shape {tuple(tensor.shape)} but input_ids has {tuple(input_ids.shape)}.")
        tower_inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            tower_inputs["token_type_ids"] = token_type_ids
        text_outputs = self.text_model(**tower_inputs, **kwargs)
        cls_state = text_outputs.last_hidden_state[:, 0]
        return BaseModelOutputWithPooling(
            last_hidden_state=text_outputs.last_hidden_state,
            pooler_output=F.normalize(self.text_projection(cls_state), dim=-1),
            hidden_states=getattr(text_outputs, "hidden_states", None),
            attentions=getattr(text_outputs, "attentions", None),
        )

    # --------------------------------------------------------------------------------------------------- forward

    @can_return_tuple
    @auto_docstring
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        input_features: torch.FloatTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        window_mask: torch.Tensor | None = None,
        pitch_class_profile: torch.Tensor | None = None,
        return_loss: bool | None = None,
        **kwargs,
    ) -> tuple | MuLanOutput:
        r"""
        input_features (`torch.FloatTensor` of shape `(batch_size, windows, frames, mel_bins)`):
            Log-mel windows from [`MuLanFeatureExtractor`].
        window_mask (`torch.LongTensor` of shape `(batch_size, windows)`, *optional*):
            1 for real windows, 0 for padding windows.
        pitch_class_profile (`torch.FloatTensor` of shape `(batch_size, windows, 12)`, *optional*):
            Each window's pitch-class profile, for models with the `"pitch_class"` audio descriptor.
        return_loss (`bool`, *optional*):
            Return the symmetric contrastive loss; clip i and text i form the positive pairs.

        Example:

        ```python
        >>> from mulan_hf import MuLanModel, MuLanProcessor
        >>> model = MuLanModel.from_pretrained("path/to/mulan")
        >>> processor = MuLanProcessor.from_pretrained("path/to/mulan")
        >>> inputs = processor(text=["calm piano", "rock drums"], audio=clip, sampling_rate=16000, return_tensors="pt")
        >>> probs = model(**inputs).logits_per_audio.softmax(dim=-1)
        ```
        """
        if input_ids is None or input_features is None:
            raise ValueError("MuLanModel.forward needs both input_ids (text) and input_features (audio).")
        flags = {k: kwargs[k] for k in ("output_hidden_states", "output_attentions") if k in kwargs}
        audio_outputs = self.get_audio_features(
            input_features=input_features, window_mask=window_mask, pitch_class_profile=pitch_class_profile, **flags
        )
        text_outputs = self.get_text_features(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids, **kwargs
        )
        audio_embeds = audio_outputs.pooler_output
        text_embeds = text_outputs.pooler_output

        logits_per_text = torch.matmul(text_embeds, audio_embeds.t()) * self.logit_scale.exp()
        bias = getattr(self, "logit_bias", None)
        if bias is not None:
            logits_per_text = logits_per_text + bias
        logits_per_audio = logits_per_text.t()

        loss = None
        if return_loss:
            if audio_embeds.shape[0] != text_embeds.shape[0]:
                raise ValueError(
                    f"The contrastive loss pairs clip i with text i, but the batch has {audio_embeds.shape[0]} clips "
                    f"and {text_embeds.shape[0]} texts."
                )
            loss = mulan_loss(logits_per_text) if bias is None else pairwise_sigmoid_loss(logits_per_text)

        return MuLanOutput(
            loss=loss,
            logits_per_audio=logits_per_audio,
            logits_per_text=logits_per_text,
            audio_embeds=audio_embeds,
            text_embeds=text_embeds,
            audio_model_output=audio_outputs,
            text_model_output=text_outputs,
        )

    # ------------------------------------------------------------------------------------------------ warm start

    @classmethod
    def from_audio_text_pretrained(
        cls,
        audio_model_name_or_path: str,
        text_model_name_or_path: str,
        window_frames: int | None = None,
        **kwargs,
    ) -> "MuLanModel":
        r"""
        Warm-start both towers from pretrained checkpoints (paper: an AudioSet AST and `bert-base-uncased`); the
        projections and the temperature are new.

        Args:
            audio_model_name_or_path (`str`): Hub id or local directory of an AST (any `ASTModel` or
                `ASTForAudioClassification` checkpoint) or a ResNet checkpoint.
            text_model_name_or_path (`str`): Hub id or local directory of a BERT-family encoder.
            window_frames (`int`, *optional*): Frames per window if different from the AST checkpoint's
                `max_length`; its position embeddings are interpolated, not re-initialised.
            kwargs: `audio_*` / `text_*` keyword arguments go to that tower's `from_pretrained` (e.g.
                `text_revision`), the rest to [`MuLanConfig`] (e.g. `projection_dim`).
        """
        tower_kwargs: dict[str, dict[str, Any]] = {"audio": {}, "text": {}}
        own_fields = set(getattr(MuLanConfig, "__dataclass_fields__", {}))  # e.g. audio_pooling is MuLan's own
        for key in [k for k in kwargs if k.startswith(("audio_", "text_")) and k not in own_fields]:
            prefix, name = key.split("_", 1)
            tower_kwargs[prefix][name] = kwargs.pop(key)

        audio_model = AutoModel.from_pretrained(audio_model_name_or_path, **tower_kwargs["audio"])
        if audio_model.config.model_type == "resnet":
            _single_channel_resnet_stem(audio_model)
        elif window_frames is not None and window_frames != audio_model.config.max_length:
            resize_ast_position_embeddings(audio_model, window_frames)

        text_model = AutoModel.from_pretrained(text_model_name_or_path, **tower_kwargs["text"])
        if getattr(text_model, "pooler", None) is not None:
            # Loaded with its pooler (so the checkpoint's keys all match), then dropped: MuLan reads [CLS].
            text_model.pooler = None
        # Copies of the tower configs: building the composite config must not touch the loaded towers' own.
        config = MuLanConfig(
            audio_config=audio_model.config.to_dict(), text_config=text_model.config.to_dict(), **kwargs
        )
        model = cls(config, audio_model=audio_model, text_model=text_model)
        logger.info("MuLan warm-started; audio_projection, text_projection and logit_scale are newly initialised.")
        return model


# save_pretrained then ships this file as remote code with an `auto_map` entry.
MuLanModel.register_for_auto_class("AutoModel")

__all__ = ["MuLanAudioDescriptors", "MuLanModel", "MuLanOutput", "MuLanPreTrainedModel", "mulan_loss"]
