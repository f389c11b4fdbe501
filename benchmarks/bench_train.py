"""Training throughput, model-FLOP utilisation and peak memory of MuLanModel against lucidrains' MuLaN (PyPI
`musiclm-pytorch`) at matched tower sizes and the same input.

    python benchmarks/bench_train.py [--batch-size 16] [--dim 256] [--depth 4] [--heads 8] [--rounds 5]

Both models: an audio transformer of width `dim`, `depth` layers, `heads` heads over a 1024-frame x 128-band
spectrogram in non-overlapping 16 x 16 patches (512 patches), a text transformer of width `dim`, `depth` layers over
64 tokens (BERT's 30522-token vocabulary), 128-d latents, a contrastive loss and an Adam step. Each candidate's
timed step starts from raw 16 kHz audio (lucidrains' model computes its STFT inside; MuLan's step includes
MuLanFeatureExtractor's log-mel) and token ids. lucidrains' MuLaN is timed in its default configuration
(SpecAugment with a 0.8 time stretch, 25 % patch dropout) and in its fastest (both off).

samples/s are medians over round-robin rounds (every round times every candidate and a 2048^2 fp32 matmul, so the
machine's 10-20 % drifts hit all alike); MFU = FLOPs per training sample (torch's FLOP counter over forward +
backward, with the CPU attention kernels counted as bench_embed.py explains; the figure without them is printed too)
x samples/s / the matmul peak of the same round. Peak memory is measured in a fresh process per
candidate: the growth of the resident set over three training steps after the model, optimiser and inputs exist.
Targets: >= 1.5x lucidrains' fastest samples/s, no more peak memory, >= 40 % MFU.

musiclm-pytorch imports fairseq (unused here), whose 0.12 release fails on Python 3.11; it is stubbed out. Install
the peer apart from the test environment: pip install musiclm-pytorch && pip uninstall -y fairseq hydra-core omegaconf
"""

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_embed import count_flops, peak_matmul  # noqa: E402

from mulan_hf import MuLanConfig, MuLanFeatureExtractor, MuLanModel  # noqa: E402
from mulan_hf.packaged import tiny_ast_config  # noqa: E402
from mulan_hf.training import contrastive_loss  # noqa: E402

SAMPLING_RATE = 16000
FRAMES, BANDS, TOKENS, VOCAB = 1024, 128, 64, 30522
NAMES = {
    "mulan": "MuLanModel (AST + BERT, transformers, SDPA)",
    "lucidrains_default": "lucidrains MuLaN, default (SpecAugment, patch dropout)",
    "lucidrains_fastest": "lucidrains MuLaN, fastest (both off)",
}


def build(name: str, args) -> tuple:
    """(model, optimizer, step function, inputs) for one candidate; the step runs forward, backward and Adam."""
    torch.manual_seed(0)
    batch = args.batch_size
    tokens = torch.randint(1000, VOCAB, (batch, TOKENS))
    if name == "mulan":
        audio_config = tiny_ast_config(
            num_mel_bins=BANDS,
            max_length=FRAMES,
            hidden_size=args.dim,
            num_hidden_layers=args.depth,
            num_attention_heads=args.heads,
            intermediate_size=4 * args.dim,
        )
        text_config = {
            "model_type": "bert",
            "vocab_size": VOCAB,
            "hidden_size": args.dim,
            "num_hidden_layers": args.depth,
            "num_attention_heads": args.heads,
            "intermediate_size": 4 * args.dim,
            "max_position_embeddings": 512,
            "hidden_dropout_prob": 0.0,
            "attention_probs_dropout_prob": 0.0,
        }
        model = MuLanModel(MuLanConfig(audio_config=audio_config, text_config=text_config)).train()
        extractor = MuLanFeatureExtractor(num_mel_bins=BANDS, window_frames=FRAMES)
        audio = np.random.default_rng(0).standard_normal((batch, extractor.window_samples)).astype(np.float32) * 0.1
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

        def step():
            features = extractor(list(audio), sampling_rate=SAMPLING_RATE, windows="first", return_tensors="pt")
            audio_embeds = model.get_audio_features(features["input_features"]).pooler_output
            text_embeds = model.get_text_features(tokens).pooler_output
            loss = contrastive_loss(audio_embeds, text_embeds, model.logit_scale)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            return loss

        return model, step
    sys.modules.setdefault("fairseq", types.ModuleType("fairseq"))
    from musiclm_pytorch import AudioSpectrogramTransformer, MuLaN, TextTransformer

    fastest = name == "lucidrains_fastest"
    hop = 80
    audio_tower = AudioSpectrogramTransformer(
        dim=args.dim,
        depth=args.depth,
        heads=args.heads,
        dim_head=args.dim // args.heads,
        patch_size=16,
        spec_n_fft=2 * (BANDS - 1),  # 128 frequency bins
        spec_win_length=2 * (BANDS - 1),
        spec_hop_length=hop,
        patch_dropout_prob=0.0 if fastest else 0.25,
    )
    if fastest:
        audio_tower.aug = torch.nn.Identity()
    text_tower = TextTransformer(dim=args.dim, depth=args.depth, heads=args.heads, dim_head=args.dim // args.heads)
    model = MuLaN(audio_transformer=audio_tower, text_transformer=text_tower).train()
    wavs = torch.randn(batch, (FRAMES - 1) * hop) * 0.1  # a 1024-frame spectrogram
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step():
        loss = model(wavs, texts=tokens)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss

    return model, step


def flops_per_sample(step, batch_size: int, with_cpu_attention: bool = True) -> float:
    return count_flops(step, with_cpu_attention) / batch_size


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 2**20


def peak_rss_mb() -> float:
    """The resident-set high-water mark of this process image (VmHWM: unlike getrusage's ru_maxrss, which Linux
    carries over fork + exec from a big parent, it starts afresh in a new process)."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def measure_memory(name: str, args) -> float:
    """In a fresh process: resident-set growth over three training steps (MB)."""
    command = [sys.executable, __file__, "--memory-of", name, "--batch-size", str(args.batch_size), "--dim",
               str(args.dim), "--depth", str(args.depth), "--heads", str(args.heads)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])["peak_mb"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--memory-of", choices=list(NAMES), help=argparse.SUPPRESS)  # internal: one candidate
    args = parser.parse_args()

    if args.memory_of:
        _, step = build(args.memory_of, args)
        before = rss_mb()
        for _ in range(3):
            step()
        print(json.dumps({"peak_mb": peak_rss_mb() - before}))
        return

    candidates = {name: build(name, args)[1] for name in NAMES}
    flops = {name: flops_per_sample(step, args.batch_size) for name, step in candidates.items()}
    ours_without_attention = flops_per_sample(candidates["mulan"], args.batch_size, with_cpu_attention=False)
    matmul, matmul_flops = peak_matmul()
    for step in candidates.values():  # warm-up
        step()
    times: dict[str, list[float]] = {name: [] for name in [*NAMES, "peak"]}
    for _ in range(args.rounds):
        for name, step in candidates.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
        matmul()
        start = time.perf_counter()
        for _ in range(3):
            matmul()
        times["peak"].append((time.perf_counter() - start) / 3)
    peaks = [matmul_flops / t / 1e9 for t in times["peak"]]
    memory = {name: measure_memory(name, args) for name in NAMES}

    print(
        f"config: batch {args.batch_size}; audio dim {args.dim} x {args.depth} layers x {args.heads} heads over "
        f"{FRAMES} x {BANDS} in 16 x 16 patches (512 patches); text dim {args.dim} x {args.depth} layers, {TOKENS} "
        f"tokens; torch threads {torch.get_num_threads()}; {args.rounds} rounds"
    )
    print(f"fp32 matmul peak (2048^2, timed in every round): median {statistics.median(peaks):.1f} GFLOP/s")
    results = {}
    for name, label in NAMES.items():
        rates = [args.batch_size / t for t in times[name]]
        mfu = statistics.median(flops[name] * r / 1e9 / p for r, p in zip(rates, peaks))
        results[name] = (statistics.median(rates), mfu)
        print(
            f"  {label:<58} {results[name][0]:6.2f} samples/s  {flops[name] / 1e9:6.2f} GFLOP/sample  MFU "
            f"{mfu:6.1%}  peak memory +{memory[name]:7.0f} MB"
        )
    ours_rate, ours_mfu = results["mulan"]
    speedup = ours_rate / results["lucidrains_fastest"][0]
    memory_ratio = memory["mulan"] / memory["lucidrains_fastest"]
    print(f"samples/s MuLan / lucidrains default: {ours_rate / results['lucidrains_default'][0]:.2f}x")
    verdict = {True: "meets", False: "MISSED"}
    print(f"samples/s MuLan / lucidrains fastest: {speedup:.2f}x (target >= 1.5x: {verdict[speedup >= 1.5]})")
    print(f"peak memory MuLan / lucidrains fastest: {memory_ratio:.2f} (target <= 1: {verdict[memory_ratio <= 1]})")
    print(f"MFU of MuLan's training step: {ours_mfu:.1%} (target >= 40 %: {verdict[ours_mfu >= 0.4]})")
    without = ours_mfu * ours_without_attention / flops["mulan"]
    print(f"(without its attention FLOPs, which torch's counter alone misses on CPU: {without:.1%})")


if __name__ == "__main__":
    main()
