"""Model cards and pushing checkpoints to the Hugging Face Hub (through huggingface_hub)."""

import json
from dataclasses import asdict, is_dataclass
from pathlib import Path


def write_model_card(folder: str | Path, args=None, summary: dict | None = None) -> Path:
    """README.md with the Hub metadata (pipeline_tag zero-shot-audio-classification) and what the model was trained
    on, how long, with which figures, and how to use it."""
    folder = Path(folder)
    settings = asdict(args) if is_dataclass(args) else dict(args or {})
    summary = summary or {}
    validation = summary.get("validation", {})
    figures = "\n".join(f"| {k.split('/')[-1]} | {v:.3f} |" for k, v in validation.items()) or "| (none) | |"
    card = f"""---
library_name: transformers
pipeline_tag: zero-shot-audio-classification
tags: [mulan, music, audio, text, contrastive, mulan-hf]
license: apache-2.0
---
# MuLan ({settings.get("preset") or "custom"})

A two-tower joint embedding of music audio and text (Huang et al., *MuLan*, ISMIR 2022), trained with
[mulan-hf](https://github.com/) for {summary.get("steps", "?")} steps ({summary.get("examples", "?")} examples) on
`{settings.get("data", "?")}`, batch {settings.get("batch_size", "?")} per process, learning rate
{settings.get("learning_rate", "?")}, loss `{settings.get("loss", "contrastive")}`.

## Zero-shot tagging on the validation split (macro ROC-AUC)

| labels | ROC-AUC |
| --- | --- |
{figures}

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


def push_model(folder: str | Path, repo_id: str, private: bool = False, token: str | None = None) -> str:
    """Create the model repo if needed and upload the folder (weights, processor, remote code, card)."""
    from huggingface_hub import HfApi

    if not repo_id:
        raise ValueError("Pushing needs a repo id: pass --hub_model_id user/name.")
    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
    commit = api.upload_folder(
        folder_path=str(folder), repo_id=repo_id, repo_type="model", commit_message="Upload MuLan model"
    )
    return str(commit)
