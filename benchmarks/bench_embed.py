"""Audio-embedding throughput and model-FLOP utilisation of MuLan's AST tower, against lucidrains' MuLaN audio tower
(PyPI `musiclm-pytorch`) at the same width, depth, heads and input (1024 x 128 log-mel windows, 16 x 16 patches).

    python benchmarks/bench_embed.py [--batch-size 8] [--dim 256] [--depth 4] [--heads 8] [--rounds 6]

FLOPs per clip come from torch's FLOP counter, with torch's own SDPA formulas registered for the CPU attention
kernel, which the counter otherwise counts as zero (the run prints the check against eager matmul attention, and
the figure without attention too); the machine's fp32 matmul peak is measured in the same run (a
2048^2 matmul timed in every round next to the models), so MFU = FLOPs/clip x clips/s / peak, per round, median
over rounds. Targets: >= 60 % MFU at batch >= 8 and >= 2.5x lucidrains'
clips/s. musiclm-pytorch imports fairseq (for a wav2vec feature the audio tower does not use), whose 0.12 release
fails on Python 3.11; it is stubbed out for the import. Install the peer apart from the project's test environment:

    pip install musiclm-pytorch && pip uninstall -y fairseq hydra-core omegaconf

(hydra-core 1.0, which fairseq pulls in, registers a pytest plugin that fails on Python 3.11.)
"""

import argparse
import statistics
import sys
import time
import types

import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

from mulan_hf import MuLanConfig, MuLanModel
from mulan_hf.packaged import tiny_ast_config


def peak_matmul(size: int = 2048):
    """A square fp32 matmul: its rate is the machine's practical fp32 peak (timed alongside the models)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    return (lambda: torch.mm(a, b)), 2 * size**3


def _cpu_flash_attention(query, key, value, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query, key, value)


def _cpu_flash_attention_backward(grad_out, query, key, value, *args, out_shape=None, **kwargs) -> int:
    return sdpa_backward_flop_count(grad_out, query, key, value)


# torch's FLOP counter has formulas for the CUDA attention kernels but not for the CPU one SDPA dispatches to
# (aten._scaled_dot_product_flash_attention_for_cpu and its backward): it counts CPU attention as 0 FLOPs. The same
# formulas torch uses for the CUDA kernels fill the gap; `check_attention_counting` shows the count then equals the
# one of the eager (matmul) attention.
CPU_ATTENTION_FLOPS = {
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_flash_attention,
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward: _cpu_flash_attention_backward,
}


def count_flops(fn, with_cpu_attention: bool = True) -> float:
    counter = FlopCounterMode(display=False, custom_mapping=CPU_ATTENTION_FLOPS if with_cpu_attention else {})
    with counter:
        fn()
    return counter.get_total_flops()


def flops_per_clip(fn, batch_size: int, with_cpu_attention: bool = True) -> float:
    return count_flops(fn, with_cpu_attention) / batch_size


def check_attention_counting() -> tuple[int, int, int]:
    """(SDPA as torch counts it, SDPA with the CPU formulas, eager matmul attention) for one attention call."""
    q, k, v = (torch.randn(2, 8, 514, 32) for _ in range(3))
    sdpa = lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v)  # noqa: E731
    eager = lambda: torch.softmax(q @ k.transpose(-1, -2) / 32**0.5, dim=-1) @ v  # noqa: E731
    return int(count_flops(sdpa, False)), int(count_flops(sdpa)), int(count_flops(eager))


def timed_rounds(fns: dict, rounds: int, calls: int = 3) -> dict[str, list[float]]:
    """Seconds per call of each candidate, round-robin: each round times every candidate back to back, so the
    10-20 % drifts of this machine's speed hit the models and the peak matmul alike. Within a round a candidate
    runs `calls` times in a row and the first call is not timed: as in a real embedding job, the model runs warm,
    not right after another model has taken the caches and the allocator's memory."""
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            fn()
            for _ in range(calls - 1):
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
    return times


def lucidrains_tower(dim: int, depth: int, heads: int):
    sys.modules.setdefault("fairseq", types.ModuleType("fairseq"))
    from musiclm_pytorch import AudioSpectrogramTransformer

    return AudioSpectrogramTransformer(
        dim=dim, depth=depth, heads=heads, dim_head=dim // heads, accept_spec=True, patch_size=16
    ).eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    torch.manual_seed(0)

    audio_config = tiny_ast_config(
        hidden_size=args.dim,
        num_hidden_layers=args.depth,
        num_attention_heads=args.heads,
        intermediate_size=4 * args.dim,
    )
    mulan = MuLanModel(
        MuLanConfig(
            audio_config=audio_config,
            text_config={
                "model_type": "bert",
                "hidden_size": 32,
                "num_hidden_layers": 1,
                "num_attention_heads": 2,
                "intermediate_size": 32,
            },
        )
    ).eval()
    theirs = lucidrains_tower(args.dim, args.depth, args.heads)
    windows = torch.randn(args.batch_size, 1, 1024, 128)

    def ours() -> torch.Tensor:
        with torch.inference_mode():
            return mulan.get_audio_features(windows).pooler_output

    def lucidrains() -> torch.Tensor:
        with torch.inference_mode():
            return theirs(windows[:, 0])

    names = ["MuLan AST tower (transformers ASTModel, SDPA)", "lucidrains MuLaN AudioSpectrogramTransformer"]
    flops = {names[0]: flops_per_clip(ours, args.batch_size), names[1]: flops_per_clip(lucidrains, args.batch_size)}
    uncounted = flops_per_clip(ours, args.batch_size, with_cpu_attention=False)
    as_shipped, with_formula, eager = check_attention_counting()
    matmul, matmul_flops = peak_matmul()
    times = timed_rounds({names[0]: ours, names[1]: lucidrains, "peak": matmul}, args.rounds)
    peak = [matmul_flops / t / 1e9 for t in times["peak"]]
    print(
        f"config: dim {args.dim}, depth {args.depth}, heads {args.heads}, 1024 x 128 log-mel, 16 x 16 patches "
        f"(512 patches), batch {args.batch_size}, torch threads {torch.get_num_threads()}, {args.rounds} rounds"
    )
    print(f"fp32 matmul peak (2048^2, timed in every round): median {statistics.median(peak):.1f} GFLOP/s")
    print(
        f"FLOP counting: torch's counter gives CPU SDPA {as_shipped} FLOPs for one attention call, the eager matmul "
        f"attention {eager}; with torch's SDPA formulas registered for the CPU kernel: {with_formula}. MuLan's "
        f"tower: {flops[names[0]] / 1e9:.2f} GFLOP/clip counted this way ({uncounted / 1e9:.2f} without attention)."
    )
    summary = {}
    for name in names:
        rates = [args.batch_size / t for t in times[name]]
        # MFU per round against that round's peak, then the median over rounds.
        mfu = statistics.median(flops[name] * r / 1e9 / p for r, p in zip(rates, peak))
        summary[name] = (statistics.median(rates), mfu)
        print(f"  {name:<48} {summary[name][0]:7.2f} clips/s  {flops[name] / 1e9:6.2f} GFLOP/clip  MFU {mfu:6.1%}")
    ours_mfu = summary[names[0]][1]
    no_attention = statistics.median(uncounted * args.batch_size / t / 1e9 / p for t, p in zip(times[names[0]], peak))
    print(f"(MuLan's MFU with attention left uncounted, as torch's counter alone would give: {no_attention:.1%})")
    ratio = summary[names[0]][0] / summary[names[1]][0]
    print(f"MFU of MuLan's tower: {ours_mfu:.1%} (target >= 60 %: {'meets' if ours_mfu >= 0.6 else 'BELOW'})")
    print(f"clips/s ratio MuLan / lucidrains: {ratio:.2f}x (target >= 2.5x: {'meets' if ratio >= 2.5 else 'BELOW'})")


if __name__ == "__main__":
    main()
