"""Publishing: the staged model and Space folders (dry runs), the model card, and the upload calls against a
stand-in for the Hub's server (tests cannot reach the real Hub; see tests/hub_stand_in.py)."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hub_stand_in import HubStandIn  # tests/hub_stand_in.py

from mulan_hf.cli import main
from mulan_hf.hub import stage_model_repo, stage_space_repo, upload_repo, write_model_card
from mulan_hf.training.trainer import MuLanTrainingArguments


@pytest.fixture
def hub(monkeypatch):
    """The stand-in server; the suite runs offline (conftest), so let huggingface_hub talk to loopback only."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    with HubStandIn() as server:
        yield server


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_model_card_has_the_hub_metadata_and_the_figures(tmp_path):
    args = MuLanTrainingArguments(output_dir=str(tmp_path), hub_model_id="someone/mulan-tiny", max_steps=300)
    summary = {
        "steps": 300,
        "examples": 4800,
        "validation": {"validation/roc_auc/instruments": 0.912},
        "skipped": {},
        "test": {"test/roc_auc/instruments": 0.88, "test/roc_auc/mode": 0.5},
    }
    card = write_model_card(tmp_path, args, summary).read_text()
    header = card.split("---")[1]
    assert "pipeline_tag: zero-shot-audio-classification" in header
    assert "library_name: transformers" in header
    assert "| validation | instruments | 0.912 |" in card
    assert "| test | instruments | 0.880 |" in card and "| test | mode | 0.500 |" in card
    assert "300 steps (4800 examples)" in card
    assert 'model="someone/mulan-tiny"' in card


def test_push_dry_run_stages_a_complete_model_repo(saved_model_dir, tmp_path, capsys, music):
    out = tmp_path / "staged"
    assert (
        main(["push", "--model-dir", saved_model_dir, "--repo-id", "someone/mulan", "--dry-run", "--out", str(out)])
        == 0
    )
    printed = capsys.readouterr().out
    assert "Would upload to model repo someone/mulan" in printed
    staged = _tree(out)
    for name in (
        "config.json",
        "model.safetensors",
        "processor_config.json",
        "tokenizer.json",
        "README.md",
        "modeling_mulan.py",
        "configuration_mulan.py",
    ):
        assert name in staged, name
        assert name in printed
    assert "pipeline_tag: zero-shot-audio-classification" in staged["README.md"].decode()
    # A fresh process that cannot import mulan_hf loads the staged copy with AutoModel and with the pipeline.
    clip_path = tmp_path / "clip.wav"
    from mulan_hf.data import write_wav

    write_wav(clip_path, music["piano_ballad"], 16000)
    script = textwrap.dedent(
        f"""
        import json, sys
        sys.modules["mulan_hf"] = None
        from transformers import AutoModel, pipeline
        model = AutoModel.from_pretrained({str(out)!r}, trust_remote_code=True)
        tagger = pipeline("zero-shot-audio-classification", model={str(out)!r}, trust_remote_code=True)
        ranked = tagger({str(clip_path)!r}, candidate_labels=["piano", "drums"], hypothesis_template="{{}}")
        print(json.dumps({{"class": type(model).__name__, "labels": sorted(r["label"] for r in ranked)}}))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"class": "MuLanModel", "labels": ["drums", "piano"]}


def test_push_refuses_a_folder_without_a_model(tmp_path, capsys):
    assert main(["push", "--model-dir", str(tmp_path), "--repo-id", "someone/mulan", "--dry-run"]) == 2
    assert "no config.json" in capsys.readouterr().err


def test_upload_sends_exactly_the_staged_model_folder(saved_model_dir, tmp_path, hub):
    staged = tmp_path / "staged"
    stage_model_repo(saved_model_dir, staged, "someone/mulan")
    commit = upload_repo(staged, "someone/mulan", "model", token="hf_stand_in", endpoint=hub.endpoint)
    assert hub.unexpected == []
    assert hub.created == [{"name": "mulan", "organization": "someone", "visibility": "public", "type": "model"}]
    assert hub.files("someone/mulan") == _tree(staged)
    assert [v["repoType"] for v in hub.validated] == ["model"]  # the card's metadata passed the YAML check
    assert "Bearer hf_stand_in" in hub.tokens
    assert commit.endswith("/someone/mulan/commit/" + "1".rjust(40, "0"))


def test_space_upload_creates_a_gradio_space_with_the_model_variable(tmp_path, hub):
    staged = tmp_path / "space"
    stage_space_repo(staged, "someone/mulan", gallery_size=2)
    upload_repo(
        staged,
        "someone/mulan-demo",
        "space",
        token="hf_stand_in",
        endpoint=hub.endpoint,
        space_variables={"MULAN_MODEL": "someone/mulan"},
    )
    assert hub.unexpected == []
    (created,) = hub.created
    assert created["type"] == "space" and created["sdk"] == "gradio"
    assert created["variables"] == [{"key": "MULAN_MODEL", "value": "someone/mulan"}]
    assert hub.files("someone/mulan-demo") == _tree(staged)


def test_deploy_space_dry_run_stages_app_metadata_and_gallery(tmp_path, capsys):
    out = tmp_path / "space"
    code = main(
        [
            "deploy-space",
            "--space-id",
            "someone/demo",
            "--model-id",
            "someone/mulan",
            "--dry-run",
            "--gallery-size",
            "3",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "Would upload to Gradio Space someone/demo (variable MULAN_MODEL=someone/mulan)" in printed
    files = _tree(out)
    assert {"app.py", "requirements.txt", "packages.txt", "README.md", "gallery/gallery.json"} <= set(files)
    metadata = files["README.md"].decode().split("---")[1]
    assert "sdk: gradio" in metadata and "app_file: app.py" in metadata and "- someone/mulan" in metadata
    assert files["packages.txt"].decode().split() == ["ffmpeg"]
    gallery = json.loads(files["gallery/gallery.json"])
    assert len(gallery) == 3 and all(f"gallery/{entry['file_name']}" in files for entry in gallery)
    requirements = [
        line.split(">")[0].split("=")[0]
        for line in files["requirements.txt"].decode().splitlines()
        if line and not line.startswith("#")
    ]
    assert "gradio" in requirements and "transformers" in requirements
    assert not any("mulan" in r for r in requirements)  # the Space runs on the checkpoint's remote code


def test_deploy_space_needs_a_hub_model_id(saved_model_dir, capsys):
    assert main(["deploy-space", "--space-id", "someone/demo", "--model-id", saved_model_dir]) == 2
    assert "Push it first" in capsys.readouterr().err


@pytest.mark.parametrize("repo_id", ["", "no-namespace"])
def test_upload_needs_a_full_repo_id(tmp_path, repo_id):
    with pytest.raises(ValueError, match="user/name"):
        upload_repo(tmp_path, repo_id)
