import shutil
import subprocess
import sys
from pathlib import Path

from transformers import pipeline

from mulan_hf import MuLanModel
from mulan_hf.cli import main

ROOT = Path(__file__).resolve().parents[1]


def mulan_hf_command() -> list[str]:
    script = shutil.which("mulan-hf", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "mulan_hf.cli"]


def test_help_explains_each_job():
    top = subprocess.run([*mulan_hf_command(), "--help"], capture_output=True, text=True, check=True)
    assert "demo" in top.stdout and "MuLan" in top.stdout
    demo = subprocess.run([*mulan_hf_command(), "demo", "--help"], capture_output=True, text=True, check=True)
    for option in ("--out", "--audio-model", "--text-model", "--labels"):
        assert option in demo.stdout
    assert "offline" in demo.stdout


def test_no_job_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "usage: mulan-hf" in capsys.readouterr().out


def test_demo_runs_offline_end_to_end(tmp_path):
    result = subprocess.run(
        [*mulan_hf_command(), "demo", "--out", str(tmp_path), "--seconds", "3", "--labels", "piano, drums ,violin"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    tagged = [line for line in result.stdout.splitlines() if ".wav" in line]
    assert len(tagged) == 4
    assert all(any(label in line for label in ("piano", "drums", "violin")) for line in tagged)
    assert len(list(tmp_path.glob("*.wav"))) == 4
    model = MuLanModel.from_pretrained(tmp_path / "model")
    assert model.config.text_config.hidden_size == 384  # the packaged MiniLM text tower
    tagger = pipeline("zero-shot-audio-classification", model=str(tmp_path / "model"))
    assert len(tagger(str(tmp_path / "piano_ballad.wav"), candidate_labels=["a", "b"])) == 2


def test_demo_rejects_an_empty_label_list(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--seconds", "1", "--labels", " , "]) == 2
    assert "--labels is empty" in capsys.readouterr().err


def test_ci_runs_the_readme_test_command():
    readme_lines = (ROOT / "README.md").read_text().splitlines()
    commands = [line.split("#")[0].strip() for line in readme_lines[:6] if line.startswith("bash ")]
    assert len(commands) == 2, "the README starts with the main-job and test commands"
    assert commands[0].endswith("accelerate launch examples/train.py")  # the training issue's main job
    assert commands[1] in (ROOT / ".ci" / "run").read_text()


def test_make_corpus_command(tmp_path):
    result = subprocess.run(
        [
            *mulan_hf_command(),
            "make-corpus",
            "--out",
            str(tmp_path),
            "--num-recordings",
            "10",
            "--seconds",
            "2",
            "--workers",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Wrote 10 recordings" in result.stdout and "recordings/s" in result.stdout
    assert len(list((tmp_path / "train").glob("*.flac"))) == 8
    assert "Rendering corpus" in result.stderr  # the progress bar
    for job in ("make-corpus", "train-text-filter"):
        help_text = subprocess.run([*mulan_hf_command(), job, "--help"], capture_output=True, text=True, check=True)
        assert "--out" in help_text.stdout


def test_make_corpus_rejects_zero_recordings(tmp_path, capsys):
    assert main(["make-corpus", "--out", str(tmp_path), "--num-recordings", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err
