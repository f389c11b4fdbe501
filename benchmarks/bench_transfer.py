"""Leave-one-sample-set-out transfer of the default recipe: for each sample set X of the embedded corpus, train the
README's main job with X held out (`--holdout_sample_set X`) and zero-shot tag X's recordings of the validation and
test splits (music and instrument samples the model never heard), beside the in-distribution test split.

    python benchmarks/bench_transfer.py [--folds timgm6mb,gmbank,opl3] [--out outputs/bench-transfer]
                                        [-- extra train.py flags, e.g. --max_steps 300]

The corpus is rendered once (timed) and shared by the folds; each fold runs `accelerate launch examples/train.py`
with the default preset exactly as the README's main job does, so the fold holding out the main job's sample set
is the main job itself (its wall clock plus the render time is the main job's from scratch).

Prints every fold and the mean over folds against the targets of the transfer issue: held-out instruments macro
ROC-AUC >= 0.85 (no fold below 0.80) and top-1 >= 0.45 over the 13 plain names, tempo >= 0.75, mode >= 0.70;
in distribution instruments >= 0.93, tempo >= 0.80, mode >= 0.75. A JSON report lands in OUT/transfer.json.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HELD_OUT_TARGETS = {"roc_auc/instruments": 0.85, "top1/instruments": 0.45, "roc_auc/tempo": 0.75, "roc_auc/mode": 0.70}
IN_DISTRIBUTION_TARGETS = {"roc_auc/instruments": 0.93, "roc_auc/tempo": 0.80, "roc_auc/mode": 0.75}
WORST_FOLD_INSTRUMENTS = 0.80


def run_fold(sample_set: str, corpus: Path, out: Path, extra: list[str]) -> dict:
    output_dir = out / f"holdout-{sample_set}"
    command = [
        str(Path(sys.executable).with_name("accelerate")), "launch", "examples/train.py",
        "--data", str(corpus), "--output_dir", str(output_dir), "--holdout_sample_set", sample_set, *extra,
    ]  # fmt: skip
    print(f"\n=== fold: {sample_set} held out ===\n{' '.join(command)}", flush=True)
    start = time.perf_counter()
    with open(out / f"holdout-{sample_set}.log", "w") as log:
        subprocess.run(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, check=True)
    summary = json.loads((output_dir / "summary.json").read_text())
    held_out = {k.split("/", 1)[1]: v for k, v in summary["holdout"].items()}
    in_distribution = {k.split("/", 1)[1]: v for k, v in summary["test"].items()}
    return {"seconds": time.perf_counter() - start, "held_out": held_out, "in_distribution": in_distribution}


def row(name: str, figures: dict, keys: list[str]) -> str:
    return f"  {name:<22}" + "".join(f"{figures.get(k, float('nan')):>20.3f}" for k in keys)


def report(results: dict[str, dict], render_seconds: float) -> bool:
    keys = ["roc_auc/instruments", "top1/instruments", "roc_auc/tempo", "roc_auc/mode", "roc_auc/style"]
    header = f"  {'':<22}" + "".join(f"{k:>20}" for k in keys)
    print(f"\nCorpus rendered once in {render_seconds:.0f} s.")
    passed = True
    for part, targets in (("held_out", HELD_OUT_TARGETS), ("in_distribution", IN_DISTRIBUTION_TARGETS)):
        print(
            f"\n{part.replace('_', ' ')} (clips: "
            + ", ".join(f"{s} {r[part]['clips']}" for s, r in results.items())
            + ")"
        )
        print(header)
        for sample_set, result in results.items():
            print(row(f"{sample_set} held out", result[part], keys) + f"   ({result['seconds'] / 60:.1f} min)")
        mean = {k: sum(r[part].get(k, float("nan")) for r in results.values()) / len(results) for k in keys}
        print(row("mean over folds", mean, keys))
        print(row("target", targets, keys))
        for key, target in targets.items():
            ok = mean[key] >= target
            passed &= ok
            verdict = "met" if ok else "NOT met"
            print(f"  {verdict}: mean {key} {mean[key]:.3f} = {mean[key] / target:.2f} x target {target}")
    worst = min(r["held_out"]["roc_auc/instruments"] for r in results.values())
    ok = worst >= WORST_FOLD_INSTRUMENTS
    passed &= ok
    verdict = "met" if ok else "NOT met"
    print(f"  {verdict}: worst fold's held-out instruments {worst:.3f} (floor {WORST_FOLD_INSTRUMENTS})")
    return passed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folds", default="timgm6mb,gmbank,opl3", help="sample sets to hold out, one fold each")
    parser.add_argument("--out", default="outputs/bench-transfer", help="corpus, checkpoints, logs and report")
    parser.add_argument("--recordings", type=int, default=2000, help="corpus size (the default preset's)")
    args, extra = parser.parse_known_args()
    extra = [e for e in extra if e != "--"]
    out = (REPO / args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    corpus = out / "corpus"
    render_seconds = 0.0
    if not (corpus / "corpus.json").is_file():
        start = time.perf_counter()
        mulan_hf_cli = str(Path(sys.executable).with_name("mulan-hf"))
        subprocess.run(
            [mulan_hf_cli, "make-corpus", "--out", str(corpus), "--num-recordings", str(args.recordings)], check=True
        )
        render_seconds = time.perf_counter() - start
    results = {}
    for sample_set in [s.strip() for s in args.folds.split(",") if s.strip()]:
        results[sample_set] = run_fold(sample_set, corpus, out, extra)
        print(json.dumps(results[sample_set]), flush=True)
    passed = report(results, render_seconds)
    (out / "transfer.json").write_text(
        json.dumps({"render_seconds": render_seconds, "folds": results, "extra_flags": extra}, indent=2) + "\n"
    )
    print(f"\nReport: {out / 'transfer.json'}")
    return 0 if passed else 1


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
