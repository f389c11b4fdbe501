"""mulan-hf as users get it from PyPI: a wheel built from this tree and installed in a fresh virtual environment
outside the repository, where no file of the clone can be reached. Presets and the Space template must come from the
wheel itself."""

import shutil
import site
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIP = ("*.egg-info", ".git", ".venv", "outputs", "build", "__pycache__", ".pytest_cache", ".ruff_cache", "gallery")


def run(command: list[str], cwd: Path, timeout: int = 600) -> str:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=_clean_env())
    assert result.returncode == 0, f"{' '.join(map(str, command))}\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    return result.stdout


def _clean_env() -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def test_the_wheel_deploys_the_space_trains_a_preset_and_tags_outside_the_repo(tmp_path):
    tree = tmp_path / "tree"  # a copy, so the build leaves nothing in the clone
    shutil.copytree(ROOT, tree, symlinks=True, ignore=shutil.ignore_patterns(*SKIP))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "dist"), str(tree)], tmp_path)
    wheel = next((tmp_path / "dist").glob("mulan_hf-*.whl"))
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path)
    python = venv / "bin" / "python"
    run([*pip, "--python", str(python), "install", "--no-deps", str(wheel)], tmp_path)
    # The dependencies (torch, transformers, ...) come from this environment's site-packages as a plain path: its
    # .pth files, among them the editable install of the clone, are not processed there.
    purelib = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path).strip()
    (Path(purelib) / "dependencies.pth").write_text(site.getsitepackages()[0] + "\n")
    work = tmp_path / "work"
    work.mkdir()
    where = run([str(python), "-c", "import mulan_hf; print(mulan_hf.__file__)"], work).strip()
    assert where.startswith(str(venv)), where

    mulan_hf = str(venv / "bin" / "mulan-hf")
    run([mulan_hf, "deploy-space", "--space-id", "a/b", "--model-id", "a/m", "--dry-run", "--out", "staged",
         "--gallery-size", "2"], work)  # fmt: skip
    assert (work / "staged" / "app.py").is_file() and "a/m" in (work / "staged" / "README.md").read_text()

    run(
        [mulan_hf, "make-corpus", "--out", "corpus", "--num-recordings", "20", "--seconds", "3", "--workers", "1"], work
    )
    # The training script, as a user downloads it (accelerate's examples are scripts too), with the wheel's preset.
    shutil.copy(ROOT / "examples" / "train.py", work / "train.py")
    run([str(python), "train.py", "--preset", "tiny", "--data", "corpus", "--output_dir", "run", "--max_steps", "2",
         "--batch_size", "4", "--eval_steps", "0", "--save_steps", "0", "--test_at_end", "false", "--log_with", "",
         "--num_workers", "0"], work)  # fmt: skip
    assert (work / "run" / "model" / "model.safetensors").is_file()
    tag = (
        "import numpy as np, mulan_hf\n"
        "from transformers import pipeline\n"
        "tagger = pipeline('zero-shot-audio-classification', model='run/model')\n"
        "clip = (0.3 * np.sin(2 * np.pi * 440 * np.arange(48000) / 16000)).astype(np.float32)\n"
        "print(sorted(r['label'] for r in tagger(clip, candidate_labels=['piano', 'drums'])))\n"
    )
    assert run([str(python), "-c", tag], work).strip().endswith("['drums', 'piano']")
