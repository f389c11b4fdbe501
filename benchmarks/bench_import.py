"""How long `import mulan_hf` takes, beside what it is built on, each in a fresh interpreter.

    python benchmarks/bench_import.py [--rounds 5]

Prints the median wall time of `import transformers` (lazy: it loads its submodules on first use), `import torch`,
`import transformers.modeling_utils` (what any PreTrainedModel subclass needs), `import transformers.pipelines`,
`import mulan_hf` (names load on first use; MuLan is registered with the Auto classes and the pipeline when
transformers loads them) and the first use of `MuLanModel`, and mulan_hf's cost over `import transformers`.
"""

import argparse
import statistics
import subprocess
import sys
import time

STATEMENTS = {
    "import transformers": "import transformers",
    "import torch": "import torch",
    "import transformers.modeling_utils": "import transformers.modeling_utils",
    "import transformers.pipelines": "import transformers.pipelines",
    "import mulan_hf": "import mulan_hf",
    "import mulan_hf + first use of MuLanModel": "import mulan_hf; mulan_hf.MuLanModel",
}


def seconds(statement: str, rounds: int) -> float:
    """Median wall time of a fresh `python -c statement` (interpreter start-up subtracted)."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", statement], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="fresh interpreters per statement (default 5)")
    args = parser.parse_args()
    baseline = seconds("pass", args.rounds)
    results = {name: seconds(statement, args.rounds) - baseline for name, statement in STATEMENTS.items()}
    print(f"Python start-up {baseline:.2f} s (subtracted); medians of {args.rounds} fresh interpreters")
    for name, value in results.items():
        print(f"{name:40s}{value:7.2f} s")
    extra = results["import mulan_hf"] - results["import transformers"]
    verdict = "meets" if extra < 1.0 else "BELOW"
    print(
        f"import mulan_hf minus import transformers: {extra:+.2f} s (target under +1 s: {verdict}); the modeling "
        "code loads on first use of a class (last row)"
    )


if __name__ == "__main__":
    main()
