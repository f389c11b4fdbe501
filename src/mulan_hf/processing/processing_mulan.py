"""MuLanProcessor: the log-mel feature extractor and a BERT WordPiece tokenizer behind one call."""

from typing import Any

from transformers import BatchFeature, ProcessorMixin


class MuLanProcessor(ProcessorMixin):
    r"""
    Wraps a [`MuLanFeatureExtractor`] and a BERT-family tokenizer.

    `processor(text=..., audio=..., sampling_rate=...)` returns the tokenizer's `input_ids` / `attention_mask` /
    `token_type_ids` and the feature extractor's `input_features` / `window_mask`, ready for `MuLanModel(**inputs)`.
    """

    def __init__(self, feature_extractor, tokenizer):
        super().__init__(feature_extractor, tokenizer)

    def __call__(
        self,
        text: str | list[str] | None = None,
        audio: Any = None,
        sampling_rate: int | None = None,
        return_tensors: str | None = None,
        padding: bool | str = True,
        truncation: bool = True,
        max_length: int | None = None,
        windows: str = "all",
        max_windows: int | None = None,
        **kwargs,
    ) -> BatchFeature:
        r"""
        Args:
            text: a string or a list of strings.
            audio: one clip or a list of clips (numpy arrays or torch tensors, mono or `(channels, samples)`).
            sampling_rate: the audio's rate in Hz (resampled to the feature extractor's rate if different).
            return_tensors: `"pt"`, `"np"` or `None`.
            padding, truncation, max_length: passed to the tokenizer (texts are padded to the longest and
                truncated to the tokenizer's maximum by default).
            windows, max_windows: passed to the feature extractor (`"all"`, `"random"` or `"first"`).
            kwargs: further tokenizer arguments.
        """
        if text is None and audio is None:
            raise ValueError("MuLanProcessor needs `text`, `audio` or both.")
        encoding: dict[str, Any] = {}
        if text is not None:
            texts = [text] if isinstance(text, str) else text
            if not isinstance(texts, (list, tuple)) or not texts:
                raise TypeError(f"text must be a string or a non-empty list of strings, got {type(text).__name__}.")
            bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
            if bad:
                raise TypeError(f"text must contain only strings; item {bad[0]} is a {type(texts[bad[0]]).__name__}.")
            encoding.update(
                self.tokenizer(
                    list(texts),
                    padding=padding,
                    truncation=truncation,
                    max_length=max_length,
                    return_tensors=return_tensors,
                    **kwargs,
                )
            )
        if audio is not None:
            encoding.update(
                self.feature_extractor(
                    audio,
                    sampling_rate=sampling_rate,
                    windows=windows,
                    max_windows=max_windows,
                    return_tensors=return_tensors,
                )
            )
        return BatchFeature(encoding, tensor_type=return_tensors)

    @property
    def model_input_names(self) -> list[str]:
        names = list(self.tokenizer.model_input_names) + list(self.feature_extractor.model_input_names)
        return list(dict.fromkeys(names))


# save_pretrained then ships this file as remote code with an `auto_map` entry.
MuLanProcessor.register_for_auto_class("AutoProcessor")

__all__ = ["MuLanProcessor"]
