"""Reports people can read: a JSON file with every figure and a Markdown page with plots (per-label ROC-AUC bars,
ROC curves of the best and worst labels, a text–audio similarity heat map)."""

import json
from pathlib import Path

import numpy as np

from .tasks import EvaluationReport


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def _plot_tagging(report: EvaluationReport, folder: Path, stem: str) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_curve

    per_label = report.metrics["per_label"]
    names = sorted(per_label, key=lambda n: per_label[n]["roc_auc"])
    figures = []

    fig, ax = plt.subplots(figsize=(7, max(2.5, 0.28 * len(names) + 1)))
    values = [per_label[n]["roc_auc"] for n in names]
    ax.barh(names, values, color=["#c0504d" if v < 0.7 else "#4f81bd" for v in values])
    ax.axvline(0.5, color="grey", linestyle="--", linewidth=1, label="chance")
    ax.axvline(report.metrics["macro_roc_auc"], color="black", linewidth=1, label="macro")
    ax.set_xlim(0, 1)
    ax.set_xlabel("ROC-AUC")
    ax.set_title(f"{report.task}: ROC-AUC per label ({report.dataset})")
    ax.legend(loc="lower right")
    fig.tight_layout()
    path = folder / f"{stem}-roc-auc-per-label.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    figures.append(("ROC-AUC per label", path.name))

    scores, targets = report.arrays["scores"], report.arrays["targets"]
    column = {label: j for j, label in enumerate(report.labels)}
    chosen = list(dict.fromkeys(names[-3:][::-1] + names[:3]))
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for name in chosen:
        j = column[name]
        fpr, tpr, _ = roc_curve(targets[:, j], scores[:, j])
        ax.plot(fpr, tpr, label=f"{name} ({per_label[name]['roc_auc']:.2f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC curves: best and worst labels")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = folder / f"{stem}-roc-curves.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    figures.append(("ROC curves of the best and worst labels", path.name))

    order = np.lexsort(targets.T[::-1])[::-1][:60]  # clips grouped by their labels
    fig, ax = plt.subplots(figsize=(max(4, 0.35 * len(report.labels) + 2), 6))
    image = ax.imshow(scores[order], aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(report.labels)), report.labels, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("clips (grouped by true labels)")
    ax.set_title("text–audio cosine similarity")
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    path = folder / f"{stem}-similarity.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    figures.append(("Text–audio similarity", path.name))
    return figures


def _headline(report: EvaluationReport) -> list[str]:
    m = report.metrics
    if "macro_roc_auc" in m:
        lines = [f"- macro ROC-AUC **{m['macro_roc_auc']:.3f}**, macro mAP **{m['macro_average_precision']:.3f}**"]
        if m.get("left_out"):
            lines.append(
                f"- left out of the macro average: {', '.join(f'{k} ({v})' for k, v in m['left_out'].items())}"
            )
        return lines
    if "recall_at" in m:
        recalls = ", ".join(f"R@{k} {v:.3f}" for k, v in m["recall_at"].items())
        return [
            f"- ROC-AUC **{m['roc_auc']:.3f}**, mAP **{m['mean_average_precision']:.3f}**, {recalls}, "
            f"median rank {m['median_rank']:g} ({m['queries']} queries)"
        ]
    return [f"- accuracy **{m['accuracy']:.3f}** (baseline {m['baseline_accuracy']:.3f}, {m['triplets']} triplets)"]


def write_report(reports: list[EvaluationReport], folder: str | Path, title: str = "MuLan evaluation") -> Path:
    """Write `evaluation.json` and `evaluation.md` (with PNG plots) into `folder`; return the Markdown path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "evaluation.json").write_text(json.dumps([r.to_dict() for r in reports], indent=2, default=float) + "\n")
    lines = [f"# {title}", ""]
    for report in reports:
        lines += [f"## {report.task} — {report.dataset}", ""]
        lines += _headline(report)
        if report.failed:
            lines.append(f"- {len(report.failed)} clips could not be decoded and were skipped:")
            lines += [f"  - {key}: {reason}" for key, reason in list(report.failed.items())[:20]]
        lines.append("")
        if "per_label" in report.metrics and "scores" in report.arrays:
            per_label = report.metrics["per_label"]
            lines += ["| label | ROC-AUC | AP | positives |", "| --- | --- | --- | --- |"]
            for name in sorted(per_label, key=lambda n: -per_label[n]["roc_auc"]):
                v = per_label[name]
                lines.append(f"| {name} | {v['roc_auc']:.3f} | {v['average_precision']:.3f} | {v['positives']} |")
            lines.append("")
            for caption, file in _plot_tagging(report, folder, _slug(f"{report.task}-{report.dataset}")):
                lines += [f"![{caption}]({file})", ""]
    path = folder / "evaluation.md"
    path.write_text("\n".join(lines))
    return path
