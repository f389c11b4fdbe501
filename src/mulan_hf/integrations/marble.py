"""MuLan's audio tower as a MARBLE-style encoder (MARBLE v2's `BaseEncoder` contract): waveforms in, per-layer frame
states out, which MARBLE's layer selectors and time pooling turn into features for its probing tasks.

    from mulan_hf.integrations.marble import MuLanMARBLEEncoder
    encoder = MuLanMARBLEEncoder("path/or/hub-id")           # frozen by default (MARBLE's train_mode="freeze")
    out = encoder(wavs)                                       # wavs: (batch, samples) at encoder.SAMPLING_RATE
    out.hidden_states                                         # one (batch, frames, width) tensor per tower layer

A clip is cut into the feature extractor's windows (as everywhere in MuLan) and each window's frame states are laid
end to end, so `frames` runs through the clip in time order, at `TOKEN_RATE` frames per second for the default
musicnn tower (AST's patch tokens are not time-ordered: there `frames` are the windows' tokens one window after
another; ResNet's layers each have their own time stride). The rows of `wavs` share one length (MARBLE pads
them), so they share their windows and frames. `pooler_output` is MuLan's clip embedding.
The musicnn tower's layers differ in width (front-end 561, mid-end 64 each): pick layers by index rather than
stacking them."""

from dataclasses import dataclass

import torch
from torch import nn
from transformers.utils import ModelOutput

from ..modeling import MuLanModel
from ..processing import MuLanProcessor


@dataclass
class MARBLEEncoderOutput(ModelOutput):
    """`last_hidden_state` (batch, frames, width), `hidden_states` one (batch, frames, width_l) per layer,
    `pooler_output` the L2-normalised (batch, projection_dim) clip embedding."""

    last_hidden_state: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    pooler_output: torch.Tensor | None = None


class MuLanMARBLEEncoder(nn.Module):
    """A MuLan audio tower with MARBLE's encoder attributes: `NAME`, `SAMPLING_RATE`, `TOKEN_RATE` (frames per
    second of `hidden_states`, None for AST), `NUM_FEATURES` (width of `last_hidden_state`), `N_LAYERS`."""

    NAME = "MuLan"

    def __init__(self, pre_trained_folder: str, train_mode: str = "freeze"):
        super().__init__()
        if train_mode not in ("freeze", "full"):
            raise ValueError(f"Unknown train_mode {train_mode!r}: use 'freeze' or 'full'.")
        self.model = MuLanModel.from_pretrained(pre_trained_folder)
        self.processor = MuLanProcessor.from_pretrained(pre_trained_folder)
        extractor = self.processor.feature_extractor
        self.SAMPLING_RATE = self.sample_rate = int(extractor.sampling_rate)
        # musicnn keeps one state per spectrogram frame; AST's patches and ResNet's strided maps have no one rate.
        musicnn = self.model.config.audio_tower_type == "musicnn"
        self.TOKEN_RATE = extractor.sampling_rate / extractor.hop_length if musicnn else None
        probe = self.forward(torch.zeros(1, int(extractor.window_seconds * extractor.sampling_rate)))
        self.NUM_FEATURES = int(probe.last_hidden_state.shape[-1])
        self.N_LAYERS = len(probe.hidden_states)
        self.model.requires_grad_(train_mode == "full")
        self.model.train(train_mode == "full")

    def forward(self, wavs: torch.Tensor, output_hidden_states: bool = True, **kwargs) -> MARBLEEncoderOutput:
        if not isinstance(wavs, torch.Tensor) or wavs.ndim != 2:
            raise ValueError(
                f"MARBLE passes waveforms as a (batch, samples) tensor at {self.sample_rate} Hz; got "
                f"{type(wavs).__name__}{tuple(getattr(wavs, 'shape', ()))}."
            )
        inputs = self.processor.feature_extractor(
            list(wavs.detach().float().cpu().numpy()), sampling_rate=self.sample_rate, return_tensors="pt"
        )
        device = self.model.logit_scale.device
        inputs = {name: value.to(device) for name, value in inputs.items()}
        output = self.model.get_audio_features(**inputs, output_hidden_states=output_hidden_states)

        def frames(states: torch.Tensor) -> torch.Tensor:  # (batch, windows, frames, width) → (batch, w·f, width)
            if states.ndim == 5:  # ResNet maps (batch, windows, channels, time, mel): a frame is a time step
                states = states.permute(0, 1, 3, 2, 4).flatten(3, 4)
            return states.flatten(1, 2)

        return MARBLEEncoderOutput(
            last_hidden_state=frames(output.last_hidden_state),
            hidden_states=tuple(frames(h) for h in output.hidden_states) if output_hidden_states else None,
            pooler_output=output.pooler_output,
        )
