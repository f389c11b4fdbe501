"""`pipeline("zero-shot-audio-classification")` for MuLan: clips of any length, batched, and datasets' audio dicts.

transformers' stock pipeline concatenates 4-D `input_features` along the batch axis, which fails for clips with
different numbers of 10 s windows. This subclass pads the windows axis through `MuLanFeatureExtractor.pad` and
otherwise behaves exactly like the stock pipeline (non-MuLan models such as CLAP go through the parent's code).
"""

from typing import Any

import numpy as np
import torch
from transformers import AutoModel
from transformers.pipelines import PIPELINE_REGISTRY
from transformers.pipelines.zero_shot_audio_classification import ZeroShotAudioClassificationPipeline

from .audio_io import decode_audio

TASK = "zero-shot-audio-classification"
STOCK_TEMPLATE = "This is a sound of {}."


class MuLanZeroShotAudioClassificationPipeline(ZeroShotAudioClassificationPipeline):
    """Zero-shot tagging: each candidate label is scored by the cosine similarity of its text embedding with the
    clip embedding (the mean over the clip's 10 s windows), softmax-normalised over the labels.

    For MuLan models the default `hypothesis_template` is `"{}"` (the label itself, as in the paper's zero-shot
    evaluation); pass another one, e.g. `"{} music"`, to change it. Inputs may be a numpy array or torch tensor
    (mono or `(channels, samples)`, at the feature extractor's rate), a path to an audio file, raw bytes, or a
    dict `{"array": ..., "sampling_rate": ...}` as `datasets` yields (resampled if needed).
    """

    @property
    def _is_mulan(self) -> bool:
        return "window_mask" in getattr(self.feature_extractor, "model_input_names", ())

    def preprocess(self, audio: Any, candidate_labels: list[str] | None = None, hypothesis_template: str | None = None):
        if not self._is_mulan:
            return super().preprocess(audio, candidate_labels, hypothesis_template or STOCK_TEMPLATE)
        if not candidate_labels or isinstance(candidate_labels, str):
            raise ValueError("candidate_labels must be a non-empty list of label strings.")
        sampling_rate = self.feature_extractor.sampling_rate
        if isinstance(audio, dict):
            if "sampling_rate" not in audio or not ({"array", "raw"} & audio.keys()):
                raise ValueError("An audio dict needs 'array' (or 'raw') and 'sampling_rate' keys.")
            sampling_rate = audio["sampling_rate"]
            audio = audio["array"] if "array" in audio else audio["raw"]
        if isinstance(audio, (str, bytes)):  # a file's path or its bytes: decoded at the extractor's rate
            audio = decode_audio(audio, sampling_rate)
        if not isinstance(audio, (np.ndarray, torch.Tensor)):
            raise TypeError(f"Expected audio as an array, a file path, bytes or a dict, got {type(audio).__name__}.")

        features = self.feature_extractor([audio], sampling_rate=sampling_rate, return_tensors="pt").to(self.dtype)
        template = "{}" if hypothesis_template is None else hypothesis_template
        text_inputs = self.tokenizer([template.format(x) for x in candidate_labels], return_tensors="pt", padding=True)
        # Lists are passed through the default collate untouched, so _forward pads the windows axis itself.
        return {"audio_inputs": [features], "text_inputs": [text_inputs], "candidate_labels": candidate_labels}

    def _forward(self, model_inputs: dict[str, Any]) -> dict[str, Any]:
        if "audio_inputs" not in model_inputs:
            return super()._forward(model_inputs)
        audio_inputs = model_inputs.pop("audio_inputs")
        text_inputs = model_inputs.pop("text_inputs")
        batched = isinstance(audio_inputs[0], list)
        if batched:  # the default collate made lists of the per-item lists
            audio_inputs = [item[0] for item in audio_inputs]
            text_inputs = text_inputs[0]
        audio_batch = self.feature_extractor.pad(audio_inputs, return_tensors="pt").to(self.device)
        outputs = self.model(**text_inputs[0], **audio_batch)
        return {"candidate_labels": model_inputs["candidate_labels"], "logits": outputs.logits_per_audio}


def register_pipeline() -> None:
    """Make `pipeline("zero-shot-audio-classification")` use the MuLan-aware subclass (a superset of the stock one)."""
    current = PIPELINE_REGISTRY.supported_tasks.get(TASK, {})
    if current.get("impl") is MuLanZeroShotAudioClassificationPipeline:
        return
    PIPELINE_REGISTRY.supported_tasks[TASK] = {
        **current,
        "impl": MuLanZeroShotAudioClassificationPipeline,
        "pt": current.get("pt", (AutoModel,)),
    }
