"""Export MuLan's two towers as ONNX graphs for serving without PyTorch (onnxruntime):

    mulan-hf export --model-dir OUTPUT/model --out OUTPUT/onnx      # or export_onnx(model_dir, out)

writes `audio_encoder.onnx` (input_features (clips, windows, frames, mel), window_mask (clips, windows) and, for
models with the key descriptor, pitch_class_profile (clips, windows, 12) → audio_embeds (clips, dim)), and
`text_encoder.onnx` (input_ids, attention_mask[, token_type_ids] (texts, tokens) → text_embeds (texts, dim)), both
with dynamic clip, window, text and token axes, plus the processor (feature extractor and tokenizer) that makes
their inputs. The graphs compute what `get_audio_features` / `get_text_features` compute (every window goes
through the tower, padding windows are masked out of the mean), in float32."""

from pathlib import Path

import torch
from torch import nn

from .modeling import MuLanModel
from .modeling.modeling_mulan import average_window_embeddings
from .processing import MuLanProcessor

EXPORT_FORMATS = ("onnx",)
ONNX_OPSET = 18


class _Encoder(nn.Module):
    """One tower of a MuLan model, wrapped so that the exporter traces just that path."""

    def __init__(self, model: MuLanModel):
        super().__init__()
        self.model = model


class AudioEncoder(_Encoder):
    """The audio tower as a graph: no input checks and no boolean indexing (every window runs), the mask applied
    in the mean."""

    def forward(
        self, input_features: torch.Tensor, window_mask: torch.Tensor, pitch_class_profile: torch.Tensor | None = None
    ) -> torch.Tensor:
        clips, windows = window_mask.shape
        profile = None if pitch_class_profile is None else pitch_class_profile.flatten(0, 1)
        embeds, _, _ = self.model.window_embeddings(input_features.flatten(0, 1), profile)
        return average_window_embeddings(embeds.unflatten(0, (clips, windows)), window_mask)


class TextEncoder(_Encoder):
    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self.model.get_text_features(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).pooler_output


def _load(model_dir: str | Path) -> tuple[MuLanModel, MuLanProcessor]:
    try:
        processor = MuLanProcessor.from_pretrained(model_dir)
    except (OSError, ValueError) as error:
        raise ValueError(
            f"No MuLan processor in {model_dir}: the export ships the feature extractor and tokenizer that make the "
            "graphs' inputs. Save them beside the model (processor.save_pretrained(folder); the main job's "
            f"OUTPUT/model has both). ({str(error).splitlines()[0][:200]})"
        ) from error
    return MuLanModel.from_pretrained(model_dir, attn_implementation="eager").eval().float(), processor


def export_onnx(model_dir: str | Path, out: str | Path, opset: int = ONNX_OPSET) -> dict[str, Path]:
    """Export the audio and text encoders of the MuLan saved in `model_dir` (with its processor) into `out`."""
    model, processor = _load(model_dir)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tower = model.audio_model
    chunking = getattr(tower.config, "frontend_chunk_size", None)
    if chunking is not None:  # one front-end pass: a loop over chunks would fix the window count in the graph
        tower.config.frontend_chunk_size = None
    try:
        example = processor(
            text=["a calm piano piece", "fast drums"],
            audio=[torch.zeros(int(3.5 * processor.feature_extractor.window_seconds * 16000)).numpy()] * 2,
            sampling_rate=16000,
            return_tensors="pt",
        )
        audio_names = [n for n in ("input_features", "window_mask", "pitch_class_profile") if n in example]
        text_names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in example]
        paths = {"audio": out / "audio_encoder.onnx", "text": out / "text_encoder.onnx"}
        graphs = [
            (AudioEncoder(model), audio_names, "audio", ("clips", 1 << 20), ("windows", 1 << 16)),
            (TextEncoder(model), text_names, "text", ("texts", 1 << 20), ("tokens", 512)),
        ]
        for encoder, names, kind, rows, columns in graphs:
            axes = {0: torch.export.Dim(rows[0], max=rows[1]), 1: torch.export.Dim(columns[0], max=columns[1])}
            with torch.no_grad():
                torch.onnx.export(
                    encoder,
                    tuple(example[name] for name in names),
                    str(paths[kind]),
                    dynamo=True,
                    opset_version=opset,
                    input_names=names,
                    output_names=[f"{kind}_embeds"],
                    dynamic_shapes=tuple(axes for _ in names),
                )
    finally:
        if chunking is not None:
            tower.config.frontend_chunk_size = chunking
    processor.save_pretrained(out)
    model.config.save_pretrained(out)
    return paths


def export(model_dir: str | Path, out: str | Path, format: str = "onnx") -> dict[str, Path]:
    """Export in `format` (one of `EXPORT_FORMATS`)."""
    if format not in EXPORT_FORMATS:
        raise ValueError(f"Unknown export format {format!r}; known: {list(EXPORT_FORMATS)}.")
    return export_onnx(model_dir, out)
