"""Reading audio files: the one decoder (torchcodec, FFmpeg's libraries) behind the training streams, evaluation and
the pipeline. A module of its own, below every other layer, so `import mulan_hf` stays light."""

import os
from typing import Any

import numpy as np


def open_audio(source: Any, sampling_rate: int):
    """A torchcodec decoder yielding mono audio at `sampling_rate`; FFmpeg's resampler/downmixer is only set up
    when the file needs it (measured: it costs about a sixth of a 10 s window's decode otherwise). `source` is a
    path, the file's bytes or a file-like object."""
    from torchcodec.decoders import AudioDecoder

    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    decoder = AudioDecoder(source)
    if decoder.metadata.sample_rate == sampling_rate and decoder.metadata.num_channels == 1:
        return decoder
    return AudioDecoder(source, sample_rate=sampling_rate, num_channels=1)


def decode_audio(source: Any, sampling_rate: int) -> np.ndarray:
    """A whole audio file (path, bytes or file-like) as mono float32 samples at `sampling_rate`: the one decoder
    of the streams' files, evaluation's clips and the pipeline's inputs (the demo Space, which cannot import
    mulan_hf, makes the same torchcodec call). Raises ValueError for a file without samples."""
    try:
        samples = open_audio(source, sampling_rate).get_all_samples().data
    except RuntimeError as error:  # torchcodec's message for a container without decodable audio frames
        raise ValueError(f"No audio could be decoded ({str(error).splitlines()[0][:200]}).") from None
    if samples.numel() == 0:
        raise ValueError("The audio file holds no samples.")
    return samples.mean(dim=0).numpy().astype(np.float32, copy=False)
