"""Serving a trained MuLan on CPU: the ONNX export (onnxruntime), bf16 autocast, bf16 and fp16 weights
(`from_pretrained(dtype=...)`) and `torch.compile` against float32 PyTorch, on the corpus's test clips, side by side
in one run.

    python benchmarks/bench_export.py --model-dir outputs/mulan-tiny/model --corpus outputs/mulan-tiny/corpus

Prints clips/s of each (whole clips: feature extraction done once beforehand, the same windows for all), the
lowest cosine of their embeddings to float32 PyTorch's, and the agreement of zero-shot tag rankings with float32
(the fraction of clips whose ranking of the corpus's instrument, style, tempo and mode names is identical, the same
top-1, and the mean Spearman correlation), and torch.compile's compilation time. Targets: ONNX cosine >= 0.999,
half-precision ranking agreement (Spearman) >= 0.99.
"""

import argparse
import glob
import os
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch
from scipy.stats import spearmanr

from mulan_hf import MuLanModel, MuLanProcessor
from mulan_hf.data.music import INSTRUMENTS, STYLES
from mulan_hf.data.streams import open_audio
from mulan_hf.export import export


def clips_per_second(embed, batches: list[dict], rounds: int) -> tuple[float, np.ndarray]:
    embed(batches[0])  # warm-up
    times, outputs = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        outputs = [embed(batch) for batch in batches]
        times.append(time.perf_counter() - start)
    clips = sum(len(batch["window_mask"]) for batch in batches)
    return clips / float(np.median(times)), np.concatenate(outputs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", default="outputs/mulan-tiny/model", help="a trained model with its processor")
    parser.add_argument("--corpus", default="outputs/mulan-tiny/corpus", help="an embedded corpus (its test split)")
    parser.add_argument("--clips", type=int, default=48, help="test clips embedded (default 48)")
    parser.add_argument("--batch-size", type=int, default=8, help="clips per call (default 8)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds, median reported (default 3)")
    parser.add_argument(
        "--no-compile", dest="compile", action="store_false", help="skip torch.compile (its first call takes ~1 min)"
    )
    args = parser.parse_args()

    import onnxruntime

    torch.set_num_threads(os.cpu_count() or 1)
    model = MuLanModel.from_pretrained(args.model_dir).eval()
    processor = MuLanProcessor.from_pretrained(args.model_dir)
    files = sorted(glob.glob(os.path.join(args.corpus, "test", "*.flac")))[: args.clips]
    if not files:
        raise SystemExit(f"No test clips in {args.corpus}/test: render a corpus first (mulan-hf make-corpus).")
    audio = [open_audio(path, 16000).get_all_samples().data[0].numpy() for path in files]
    batches = [
        dict(processor.feature_extractor(audio[i : i + args.batch_size], sampling_rate=16000, return_tensors="pt"))
        for i in range(0, len(audio), args.batch_size)
    ]
    seconds = sum(len(a) for a in audio) / 16000
    threads = torch.get_num_threads()
    print(f"{len(audio)} test clips ({seconds / len(audio):.0f} s each), batch {args.batch_size}, {threads} threads")

    @torch.no_grad()
    def torch_embed(batch: dict, dtype: torch.dtype | None = None) -> np.ndarray:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype is torch.bfloat16):
            return model.get_audio_features(**batch).pooler_output.float().numpy()

    fp32_rate, fp32 = clips_per_second(torch_embed, batches, args.rounds)
    bf16_rate, bf16 = clips_per_second(lambda b: torch_embed(b, torch.bfloat16), batches, args.rounds)
    # Weights loaded in half precision (`from_pretrained(dtype=...)`), inputs cast to match.
    half = {}
    for dtype in (torch.bfloat16, torch.float16):
        low = MuLanModel.from_pretrained(args.model_dir, dtype=dtype).eval()

        @torch.no_grad()
        def low_embed(batch: dict, low: MuLanModel = low, dtype: torch.dtype = dtype) -> np.ndarray:
            cast = {k: v.to(dtype) if v.is_floating_point() else v for k, v in batch.items()}
            return low.get_audio_features(**cast).pooler_output.float().numpy()

        half[dtype] = clips_per_second(low_embed, batches, args.rounds)
    compiled_rate = compile_seconds = compiled = None
    if args.compile:
        compiled_features = torch.compile(model.get_audio_features, dynamic=True)
        start = time.perf_counter()
        with torch.no_grad():
            compiled_features(**batches[0])
        compile_seconds = time.perf_counter() - start

        @torch.no_grad()
        def compiled_embed(batch: dict) -> np.ndarray:
            return compiled_features(**batch).pooler_output.numpy()

        compiled_rate, compiled = clips_per_second(compiled_embed, batches, args.rounds)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        paths = export(args.model_dir, folder)
        export_seconds = time.perf_counter() - start
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        session = onnxruntime.InferenceSession(str(paths["audio"]), options)
        names = [i.name for i in session.get_inputs()]
        onnx_rate, onnx = clips_per_second(
            lambda b: session.run(None, {n: b[n].numpy() for n in names})[0], batches, args.rounds
        )

    labels = sorted(INSTRUMENTS) + [s.name for s in STYLES] + ["slow", "moderate", "fast", "major", "minor"]
    text = processor(text=labels, return_tensors="pt")
    with torch.no_grad():
        text_embeds = model.get_text_features(**text).pooler_output.numpy()
    scores32 = fp32 @ text_embeds.T

    def agreement(x: np.ndarray) -> tuple[float, float, float]:
        """(identical rankings, same top-1, mean Spearman) of the zero-shot tag scores against float32's."""
        scores = x @ text_embeds.T
        identical = float(np.mean([(np.argsort(a) == np.argsort(b)).all() for a, b in zip(scores32, scores)]))
        top1 = float(np.mean(scores32.argmax(1) == scores.argmax(1)))
        return identical, top1, float(np.mean([spearmanr(a, b).statistic for a, b in zip(scores32, scores)]))

    rows = [("PyTorch float32", fp32_rate, fp32), ("PyTorch bf16 autocast", bf16_rate, bf16)]
    rows += [
        ("PyTorch bf16 weights", *half[torch.bfloat16]),
        ("PyTorch fp16 weights", *half[torch.float16]),
        ("ONNX Runtime float32", onnx_rate, onnx),
    ]
    if compiled is not None:
        rows.append(("torch.compile float32", compiled_rate, compiled))
    print(f"{'':24s}{'clips/s':>9s}{'vs fp32':>9s}{'min cos':>9s}{'same rank':>10s}{'top-1':>7s}{'Spearman':>9s}")
    for name, rate, embeds in rows:
        identical, top1, rho = agreement(embeds)
        cosine = float((embeds * fp32).sum(-1).min())
        print(f"{name:24s}{rate:9.1f}{rate / fp32_rate:8.2f}x{cosine:9.5f}{identical:10.1%}{top1:7.1%}{rho:9.4f}")
    verdict = "meets" if float((onnx * fp32).sum(-1).min()) >= 0.999 else "BELOW"
    print(f"ONNX export took {export_seconds:.0f} s; parity cosine >= 0.999: {verdict}")
    worst = min(agreement(embeds)[2] for name, _, embeds in rows if "bf16" in name or "fp16" in name)
    verdict = "meets" if worst >= 0.99 else "BELOW"
    print(
        f"Zero-shot rankings of {len(labels)} tags, lowest mean Spearman at half precision: {worst:.4f} "
        f"(target >= 0.99: {verdict})"
    )
    if compile_seconds is not None:
        print(f"torch.compile(get_audio_features, dynamic=True): first call (compilation) {compile_seconds:.0f} s")


if __name__ == "__main__":
    main()
