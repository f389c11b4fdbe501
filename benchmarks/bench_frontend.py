"""Front-end throughput: MuLanFeatureExtractor against transformers' CLAP and AST feature extractors, torchaudio's
batched MelSpectrogram and a bare torch.stft + precomputed mel matrix, on the same batch of 10 s clips.

    python benchmarks/bench_frontend.py [--clips 32] [--rounds 9] [--threads N]

Prints the median clips/s of each (timed round-robin) and the ratios the core issue targets
(>= 12x CLAP, >= 2.5x AST, within 10 % of the bare computation).
"""

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
import torchaudio
from transformers import ASTFeatureExtractor, ClapFeatureExtractor

from mulan_hf import MuLanFeatureExtractor

SAMPLING_RATE = 16000


def measure(candidates: dict[str, Callable[[], object]], num_clips: int, rounds: int) -> dict[str, float]:
    """Median clips/s of each candidate, timed round-robin so drifts in machine speed hit all alike."""
    for fn in candidates.values():
        fn()  # warm-up (allocations, FFT plans)
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: num_clips / statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=32, help="clips per batch (default 32)")
    parser.add_argument("--seconds", type=float, default=10.0, help="clip length in seconds (default 10)")
    parser.add_argument("--rounds", type=int, default=9, help="timed rounds; medians are reported (default 9)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    rng = np.random.default_rng(0)
    clips = [rng.standard_normal(int(args.seconds * SAMPLING_RATE)).astype(np.float32) * 0.1 for _ in range(args.clips)]
    batch = torch.from_numpy(np.stack(clips))

    mulan = MuLanFeatureExtractor()
    # CLAP runs at 48 kHz: time it as users run it (the same clips upsampled to 48 kHz, its default settings)
    # and, for reference, configured for the 16 kHz clips directly.
    clap_native = ClapFeatureExtractor()
    clips_48k = [
        torchaudio.functional.resample(torch.from_numpy(c), SAMPLING_RATE, clap_native.sampling_rate).numpy()
        for c in clips
    ]
    clap = ClapFeatureExtractor(sampling_rate=SAMPLING_RATE)
    ast = ASTFeatureExtractor()
    melspec = torchaudio.transforms.MelSpectrogram(
        sample_rate=SAMPLING_RATE, n_fft=512, win_length=400, hop_length=160, n_mels=128, f_min=20.0
    )
    window = torch.hann_window(400, periodic=False)
    mel_matrix = mulan.mel_filters[::2]  # the plain (freq, mel) matrix

    def bare_on(waveforms: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(waveforms, 512, 160, 400, window, center=True, return_complex=True)
        return torch.matmul(spec.abs().pow(2).transpose(1, 2), mel_matrix).clamp(min=1e-10).log()

    def bare() -> torch.Tensor:
        return bare_on(batch)

    def bare_per_clip() -> list[torch.Tensor]:
        return [bare_on(batch[i : i + 1]) for i in range(len(batch))]

    def run_torchaudio() -> torch.Tensor:
        return melspec(batch).clamp(min=1e-10).log()

    results = measure(
        {
            "ClapFeatureExtractor (48 kHz, default)": lambda: clap_native(
                clips_48k, sampling_rate=clap_native.sampling_rate, return_tensors="pt"
            ),
            "ClapFeatureExtractor (set to 16 kHz)": lambda: clap(
                clips, sampling_rate=SAMPLING_RATE, return_tensors="pt"
            ),
            "ASTFeatureExtractor": lambda: ast(clips, sampling_rate=SAMPLING_RATE, return_tensors="pt"),
            "torchaudio MelSpectrogram (batched)": run_torchaudio,
            "bare torch.stft + mel matrix (batched)": bare,
            "bare torch.stft + mel matrix (per clip)": bare_per_clip,
            "MuLanFeatureExtractor": lambda: mulan(clips, sampling_rate=SAMPLING_RATE, return_tensors="pt"),
        },
        args.clips,
        args.rounds,
    )
    print(
        f"batch: {args.clips} clips x {args.seconds:g} s at {SAMPLING_RATE} Hz; torch threads {torch.get_num_threads()}"
    )
    for name, value in results.items():
        print(f"  {name:<42} {value:8.1f} clips/s")
    ours = results["MuLanFeatureExtractor"]
    results["bare torch.stft + mel matrix (best)"] = max(
        results["bare torch.stft + mel matrix (batched)"], results["bare torch.stft + mel matrix (per clip)"]
    )
    print("ratios (MuLanFeatureExtractor / other):")
    for name, target in (
        ("ClapFeatureExtractor (48 kHz, default)", 12.0),
        ("ClapFeatureExtractor (set to 16 kHz)", 12.0),
        ("ASTFeatureExtractor", 2.5),
        ("bare torch.stft + mel matrix (best)", 0.9),
    ):
        ratio = ours / results[name]
        verdict = "meets" if ratio >= target else "BELOW"
        print(f"  vs {name:<40} {ratio:6.2f}x  (target >= {target:g}x: {verdict})")


if __name__ == "__main__":
    main()
