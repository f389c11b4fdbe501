"""Model cards and pushing checkpoints to the Hugging Face Hub (through huggingface_hub)."""

import importlib.resources
import json
import shutil
from dataclasses import asdict, is_dataclass
from pathlib import Path


def write_model_card(folder: str | Path, args=None, summary: dict | None = None) -> Path:
    """README.md with the Hub metadata (pipeline_tag zero-shot-audio-classification) and what the model was trained
    on, how long, with which figures, and how to use it."""
    folder = Path(folder)
    settings = asdict(args) if is_dataclass(args) else dict(args or {})
    summary = summary or {}
    figures = _figure_rows({**summary.get("validation", {}), **summary.get("test", {})})
    holdout = settings.get("holdout_sample_set")
    credits = ""
    config_path = folder / "config.json"
    config = json.loads(config_path.read_text()) if config_path.is_file() else {}
    if config.get("audio_descriptors"):
        credits += (
            f"\nBeside the audio tower's pooled state, the audio projection reads musical descriptors of each window "
            f"({', '.join(config['audio_descriptors'])}): `pitch_class` correlates the window's pitch-class profile "
            "(returned by the saved feature extractor, over the seconds around the window its `pitch_class_seconds` "
            "names) with learnt key profiles in all 12 transpositions (key and "
            "mode), `rhythm` is the autocorrelation of the log-mel onset strength (tempo).\n"
        )
    if config.get("audio_config", {}).get("model_type") == "musicnn":
        credits += (
            "\nThe audio tower is musicnn's MTT_musicnn (J. Pons and X. Serra, *musicnn: pre-trained convolutional "
            "neural networks for music audio tagging*, ISMIR 2019 LBD), trained on MagnaTagATune, with the weights "
            "of the PyPI package `musicnn` (ISC license, Copyright (c) Music Technology Group, Universitat Pompeu "
            "Fabra 2019).\n"
        )
    kinds = settings.get("text_negatives") or []
    negatives = (
        f" with counterfactual {' and '.join(kinds)} text negatives (captions with the words swapped)" if kinds else ""
    )
    transfer = ""
    if summary.get("holdout"):
        transfer = f"""
## Transfer: music rendered with a sample set never heard in training

Trained without the `{holdout}` sample set; these are its recordings of the validation and test splits (the
instruments are the 13 plain names piano, organ, acoustic guitar, electric guitar, bass, violin, cello, trumpet,
saxophone, flute, clarinet, synth pad, drums). Compare with the in-distribution test split above.

| recordings | labels | ROC-AUC | top-1 |
| --- | --- | --- | --- |
{_figure_rows(summary["holdout"])}
"""
    card = f"""---
library_name: transformers
pipeline_tag: zero-shot-audio-classification
tags: [mulan, music, audio, text, contrastive, mulan-hf]
license: apache-2.0
---
# MuLan ({settings.get("preset") or "custom"})

A two-tower joint embedding of music audio and text (Huang et al., [*MuLan*](https://arxiv.org/abs/2208.12415),
ISMIR 2022), trained with `mulan-hf` for {summary.get("steps", "?")} steps ({summary.get("examples", "?")} examples) on
`{settings.get("data", "?")}`, batch {settings.get("batch_size", "?")} per process, learning rate
{settings.get("learning_rate", "?")}, loss `{settings.get("loss", "contrastive")}`{negatives}.
{credits}
## Zero-shot tagging (macro ROC-AUC)

| split | labels | ROC-AUC | top-1 |
| --- | --- | --- | --- |
{figures}
{transfer}
Records skipped while training: {json.dumps(summary.get("skipped", {}))}.

## Use

```python
import mulan_hf  # or pass trust_remote_code=True without the package
from transformers import pipeline

tagger = pipeline("zero-shot-audio-classification", model="{settings.get("hub_model_id") or folder.name}")
tagger("song.mp3", candidate_labels=["piano", "drums", "calm", "energetic"])
```
"""
    path = folder / "README.md"
    path.write_text(card)
    return path


def _figure_rows(scores: dict[str, float]) -> str:
    """Table rows `| split | labels | ROC-AUC | top-1 |` from `{split}/roc_auc/{labels}` (and `/top1/`) keys."""
    rows = []
    for key, value in scores.items():
        parts = key.split("/")
        if len(parts) != 3 or parts[1] != "roc_auc":
            continue
        top1 = scores.get(f"{parts[0]}/top1/{parts[2]}")
        top1_text = f"{top1:.3f}" if top1 is not None else ""
        clips = scores.get(f"{parts[0]}/clips")
        where = f"{parts[0]} ({clips} clips)" if clips is not None else parts[0]
        rows.append(f"| {where} | {parts[2]} | {value:.3f} | {top1_text} |")
    return "\n".join(rows) or "| (none) | | | |"


# Shipped inside the package (a wheel has it too); spaces/mulan-demo in a clone links here.
SPACE_TEMPLATE = Path(str(importlib.resources.files("mulan_hf") / "spaces" / "mulan-demo"))
SPACE_FILES = ("app.py", "requirements.txt", "packages.txt")


def _listing(folder: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(folder)), p.stat().st_size) for p in folder.rglob("*") if p.is_file())


def stage_model_repo(model_dir: str | Path, out: str | Path, repo_id: str | None = None) -> list[tuple[str, int]]:
    """Copy a saved MuLan folder (weights, processor, remote code) into `out` exactly as it would be uploaded,
    writing a model card if the folder has none. Returns the (path, bytes) listing."""
    model_dir, out = Path(model_dir), Path(out)
    if not (model_dir / "config.json").is_file():
        raise FileNotFoundError(f"{model_dir} has no config.json: give a folder written by MuLanModel.save_pretrained.")
    if not (model_dir / "preprocessor_config.json").is_file() and not (model_dir / "processor_config.json").is_file():
        raise FileNotFoundError(f"{model_dir} has no processor files: save the MuLanProcessor next to the model.")
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(model_dir, out, ignore=shutil.ignore_patterns("checkpoints", "logs", "*.partial", ".cache"))
    if not (out / "README.md").is_file():
        write_model_card(out, {"hub_model_id": repo_id})
    return _listing(out)


DEFAULT_SPACE_MODEL = "mulan-hf/mulan-tiny"  # the model id written in the template's README


def space_readme(model_id: str) -> str:
    """The template's README.md (Space metadata: sdk, app_file, models) pointing at `model_id`."""
    return (SPACE_TEMPLATE / "README.md").read_text().replace(DEFAULT_SPACE_MODEL, model_id)


def stage_space_repo(out: str | Path, model_id: str, gallery_size: int = 24) -> list[tuple[str, int]]:
    """Write the demo Space into `out` exactly as it would be uploaded: app.py, requirements.txt, packages.txt (apt:
    FFmpeg), README.md with the Space metadata, and the rendered gallery. Returns the (path, bytes) listing."""
    from .data.corpus import write_gallery

    if not (SPACE_TEMPLATE / "app.py").is_file():
        raise FileNotFoundError(f"The Space template is not at {SPACE_TEMPLATE}: reinstall mulan-hf.")
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for name in SPACE_FILES:
        shutil.copy2(SPACE_TEMPLATE / name, out / name)
    (out / "README.md").write_text(space_readme(model_id))
    write_gallery(out / "gallery", count=gallery_size)
    return _listing(out)


def check_repo_id(repo_id: str) -> None:
    """Publishing needs a full Hub id: user/name (or organisation/name)."""
    if not repo_id or repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise ValueError(f"Pushing needs a repo id of the form user/name, got {repo_id!r}.")


def upload_repo(
    folder: str | Path,
    repo_id: str,
    repo_type: str = "model",
    private: bool = False,
    token: str | None = None,
    endpoint: str | None = None,
    space_variables: dict[str, str] | None = None,
) -> str:
    """Create the repo if needed (a Gradio Space for repo_type "space") and upload the folder in one commit."""
    from huggingface_hub import HfApi

    check_repo_id(repo_id)
    api = HfApi(token=token, endpoint=endpoint)
    extra = {}
    if repo_type == "space":
        extra["space_sdk"] = "gradio"
        if space_variables:
            extra["space_variables"] = [{"key": k, "value": v} for k, v in space_variables.items()]
    api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True, **extra)
    commit = api.upload_folder(
        folder_path=str(folder), repo_id=repo_id, repo_type=repo_type, commit_message=f"Upload MuLan {repo_type}"
    )
    return str(commit)


def push_model(
    folder: str | Path, repo_id: str, private: bool = False, token: str | None = None, endpoint: str | None = None
) -> str:
    """Create the model repo if needed and upload the folder (weights, processor, remote code, card)."""
    return upload_repo(folder, repo_id, "model", private=private, token=token, endpoint=endpoint)
