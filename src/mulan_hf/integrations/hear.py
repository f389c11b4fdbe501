"""MuLan as a HEAR 2021 module (the API hear-eval-kit and hearvalidator call):

    from mulan_hf.integrations import hear
    model = hear.load_model("path/or/hub-id")                 # a folder saved with save_pretrained (+ processor)
    scene = hear.get_scene_embeddings(audio, model)           # (n_sounds, 128): the clip embedding
    frames, times = hear.get_timestamp_embeddings(audio, model)  # (n_sounds, n_windows, 128), centres in ms

`audio` is a float32 tensor (n_sounds, n_samples) at `model.sample_rate` (16 kHz), in [-1, 1]. Scene embeddings are
MuLan's clip embeddings (the mean of the windows' embeddings, L2-normalised). Timestamp embeddings are the windows'
own embeddings, one per analysis window of the feature extractor (10.24 s, or 3.07 s for the musicnn preset),
stamped at each window's centre: MuLan embeds seconds of music, not frames, so the spacing is far above the 50 ms
that HEAR suggests for transcription tasks (hearvalidator warns; scene tasks are what MuLan is for)."""

import torch
from torch import nn

from ..modeling import MuLanModel
from ..processing import MuLanProcessor


class MuLanHEARModel(nn.Module):
    """A MuLan model and its processor with the attributes HEAR reads: `sample_rate`, `scene_embedding_size` and
    `timestamp_embedding_size`."""

    def __init__(self, model: MuLanModel, processor: MuLanProcessor):
        super().__init__()
        self.mulan = model.eval()
        self.processor = processor
        self.sample_rate = int(processor.feature_extractor.sampling_rate)
        self.scene_embedding_size = int(model.config.projection_dim)
        self.timestamp_embedding_size = int(model.config.projection_dim)

    def features(self, audio: torch.Tensor) -> dict[str, torch.Tensor]:
        if not isinstance(audio, torch.Tensor) or audio.ndim != 2:
            raise ValueError(
                "HEAR passes audio as a (n_sounds, n_samples) tensor at model.sample_rate; got "
                f"{type(audio).__name__}{tuple(getattr(audio, 'shape', ()))}."
            )
        if not bool(torch.isfinite(audio).all()):
            raise ValueError("The audio holds NaN or Inf samples.")
        clips = list(audio.detach().float().cpu().numpy())
        inputs = self.processor.feature_extractor(clips, sampling_rate=self.sample_rate, return_tensors="pt")
        device = self.mulan.logit_scale.device
        return {name: value.to(device) for name, value in inputs.items()}


def load_model(model_file_path: str = "") -> MuLanHEARModel:
    """The MuLan model and processor saved in `model_file_path` (a `save_pretrained` folder or a Hub id)."""
    if not model_file_path:
        raise ValueError(
            "mulan_hf.integrations.hear.load_model needs a MuLan checkpoint: a folder written by save_pretrained "
            "(model and processor, e.g. the main job's OUTPUT/model) or a Hub id."
        )
    return MuLanHEARModel(MuLanModel.from_pretrained(model_file_path), MuLanProcessor.from_pretrained(model_file_path))


@torch.no_grad()
def get_scene_embeddings(audio: torch.Tensor, model: MuLanHEARModel) -> torch.Tensor:
    """(n_sounds, n_samples) → (n_sounds, scene_embedding_size) float32: MuLan's clip embeddings."""
    return model.mulan.get_audio_features(**model.features(audio)).pooler_output.float()


@torch.no_grad()
def get_timestamp_embeddings(audio: torch.Tensor, model: MuLanHEARModel) -> tuple[torch.Tensor, torch.Tensor]:
    """(n_sounds, n_samples) → ((n_sounds, n_windows, timestamp_embedding_size) float32 window embeddings,
    (n_sounds, n_windows) window centres in milliseconds). Every sound of a batch has the same length (HEAR's
    contract), so every sound has the same windows."""
    inputs = model.features(audio)
    batch_size, num_windows = inputs["window_mask"].shape
    # Each window embedded as a clip of its own: its embedding, unaveraged.
    single = {
        name: value.reshape(batch_size * num_windows, 1, *value.shape[2:])
        for name, value in inputs.items()
        if name != "window_mask"
    }
    embeddings = model.mulan.get_audio_features(**single).pooler_output.float()
    window_ms = 1000.0 * model.processor.feature_extractor.window_seconds
    centres = (torch.arange(num_windows, dtype=torch.float32) + 0.5) * window_ms
    return embeddings.view(batch_size, num_windows, -1), centres.expand(batch_size, -1).to(embeddings.device)
