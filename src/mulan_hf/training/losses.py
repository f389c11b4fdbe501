"""Contrastive losses over the global batch.

With several processes, every rank gathers the audio and text embeddings of all ranks with gradients
(`torch.distributed.nn.functional.all_gather`: its backward sums the gradient each rank computes for a shard back
into the rank that owns it), and computes the same global loss. DistributedDataParallel then averages identical
sums, so per-process batch 8 on 2 processes gives the loss and the gradients of one process with batch 16.

Duplicate-aware: in a batch drawn from tags several pairs share a text ("rock"), and a recording can appear twice;
such pairs are positives of each other, not negatives. They are masked out of the softmax denominators.
"""

from typing import NamedTuple

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from ..data.streams import string_id, text_ids  # noqa: F401  (the collator's group ids; re-exported)


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate `tensor` from every rank along dim 0 (rank order), keeping gradients; identity on one process."""
    if not is_distributed():
        return tensor
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(tensor.contiguous()), dim=0)


def gather_ids(ids: torch.Tensor) -> torch.Tensor:
    """Concatenate integer ids (no gradients) from every rank."""
    if not is_distributed():
        return ids
    parts = [torch.empty_like(ids) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, ids.contiguous())
    return torch.cat(parts)


def positive_mask(text_group: torch.Tensor | None, audio_group: torch.Tensor | None, size: int, device) -> torch.Tensor:
    """(size, size) boolean: pairs that are positives of each other (the diagonal, equal texts, equal recordings)."""
    mask = torch.eye(size, dtype=torch.bool, device=device)
    for group in (text_group, audio_group):
        if group is not None:
            mask |= group.unsqueeze(0) == group.unsqueeze(1)
    return mask


def _global_batch(audio_embeds, text_embeds, text_group, audio_group):
    """Every rank's pairs (with gradients for this rank's) and the positives mask over them."""
    audio_all = gather_with_grad(audio_embeds)
    text_all = gather_with_grad(text_embeds)
    groups = [gather_ids(g) if g is not None else None for g in (text_group, audio_group)]
    return audio_all, text_all, positive_mask(*groups, audio_all.shape[0], audio_all.device)


class TextNegatives(NamedTuple):
    """Extra texts that are negatives of every clip (counterfactual twins from `data.negatives`): their embeddings,
    which rows are real (`mask`) and their text ids; the ids of the batch's own texts (`text_group`) let a twin
    that equals one of a clip's own texts ("major key" turned into another pair's "minor key") stay out of its
    negatives."""

    embeds: torch.Tensor
    mask: torch.Tensor
    group: torch.Tensor
    text_group: torch.Tensor


def _negative_logits(
    audio_all: torch.Tensor, positives: torch.Tensor, logit_scale: torch.Tensor, negatives: TextNegatives
) -> tuple[torch.Tensor, torch.Tensor]:
    """(clips, negatives) scaled similarities and which of them are true negatives."""
    embeds = gather_with_grad(negatives.embeds)
    valid = gather_ids(negatives.mask.long()).bool()
    group, text_group = gather_ids(negatives.group), gather_ids(negatives.text_group)
    same_text = text_group.unsqueeze(1) == group.unsqueeze(0)  # (texts, negatives)
    clash = (positives.to(embeds.dtype) @ same_text.to(embeds.dtype)) > 0  # a clip's own text among the negatives
    return logit_scale.exp() * audio_all @ embeds.t(), valid.unsqueeze(0) & ~clash


def contrastive_loss(
    audio_embeds: torch.Tensor,
    text_embeds: torch.Tensor,
    logit_scale: torch.Tensor,
    text_group: torch.Tensor | None = None,
    audio_group: torch.Tensor | None = None,
    negatives: TextNegatives | None = None,
) -> torch.Tensor:
    """Symmetric InfoNCE over the global batch. `text_group` / `audio_group` (int ids per local pair, e.g. from
    `text_ids` and `string_id(recording_id)`) mark duplicates: a pair's duplicates are left out of its softmax
    denominator, so identical texts or recordings are not pushed apart. `negatives` adds texts to every clip's
    denominator (the clip → text direction). Without groups and negatives: the paper's plain loss."""
    audio_all, text_all, positives = _global_batch(audio_embeds, text_embeds, text_group, audio_group)
    logits = logit_scale.exp() * text_all @ audio_all.t()  # (texts, clips)
    size = logits.shape[0]
    # Each pair's own column is the target; its other positives leave the denominator.
    duplicates = positives & ~torch.eye(size, dtype=torch.bool, device=logits.device)
    logits = logits.masked_fill(duplicates, float("-inf"))
    targets = torch.arange(size, device=logits.device)
    per_clip = logits.t()
    if negatives is not None:
        extra, keep = _negative_logits(audio_all, positives, logit_scale, negatives)
        per_clip = torch.cat([per_clip, extra.masked_fill(~keep, float("-inf"))], dim=1)
    return (F.cross_entropy(logits, targets) + F.cross_entropy(per_clip, targets)) / 2


def sigmoid_loss(
    audio_embeds: torch.Tensor,
    text_embeds: torch.Tensor,
    logit_scale: torch.Tensor,
    logit_bias: torch.Tensor,
    text_group: torch.Tensor | None = None,
    audio_group: torch.Tensor | None = None,
    negatives: TextNegatives | None = None,
) -> torch.Tensor:
    """SigLIP's pairwise sigmoid loss over the global batch: every (text, clip) pair is a binary decision, positives
    being the matching pairs and their duplicates; `negatives` adds (clip, negative text) pairs labelled negative."""
    audio_all, text_all, positives = _global_batch(audio_embeds, text_embeds, text_group, audio_group)
    logits = logit_scale.exp() * text_all @ audio_all.t() + logit_bias
    labels = positives.to(logits.dtype) * 2 - 1
    loss = -F.logsigmoid(labels * logits).sum()
    if negatives is not None:
        extra, keep = _negative_logits(audio_all, positives, logit_scale, negatives)
        loss = loss - (F.logsigmoid(-(extra + logit_bias)) * keep).sum()
    return loss / logits.shape[0]


def tag_loss(
    audio_embeds: torch.Tensor, label_embeds: torch.Tensor, targets: torch.Tensor, logit_scale: torch.Tensor
) -> torch.Tensor:
    """Multi-label InfoNCE between the batch's clips and a fixed vocabulary of label texts (e.g. every instrument
    name of the corpus), in both directions: each clip's softmax over the labels puts its weight on the clip's tags
    (the positives shared equally), and each label's softmax over the batch's clips puts its weight on the clips
    that have it. The second direction ranks clips per label, as ROC-AUC per label does; the caption loss alone
    teaches a name only when a clip's one random caption says it, and counts other clips with that instrument as
    negatives. Clips without tags and labels no clip has are left out. The local batch only (no gather)."""
    logits = logit_scale.exp() * audio_embeds @ label_embeds.t()  # (clips, labels)
    targets = targets.to(logits.dtype)
    terms = []
    for scores, positives in ((logits, targets), (logits.t(), targets.t())):
        counts = positives.sum(dim=1)
        rows = counts > 0
        if rows.any():
            log_probs = F.log_softmax(scores[rows].float(), dim=1)
            terms.append(-((log_probs * positives[rows]).sum(dim=1) / counts[rows]).mean())
    if not terms:
        return logits.sum() * 0.0
    return torch.stack(terms).mean()


class MuLanLoss(nn.Module):
    """The training objective, the one place it is computed: the paper's symmetric InfoNCE (`kind="contrastive"`)
    or SigLIP's pairwise sigmoid loss (`kind="sigmoid"`), over the global batch (every rank's pairs gathered with
    gradients, as open_clip's `ClipLoss` with `gather_with_grad`), with duplicate pairs (the collator's
    `text_group` / `audio_group` ids) kept out of each other's negatives unless `mask_duplicates=False`, and
    counterfactual text negatives. The temperature and the sigmoid bias are the model's parameters (`logit_scale`,
    `logit_bias`), so `save_pretrained` and accelerate's checkpoints carry them; the loss holds no state. Given
    `label_embeds` and `tag_targets` it adds `tag_weight` times `tag_loss`, averaged over the label groups
    `tag_spans` gives (each tag column's labels compete only with each other)."""

    def __init__(self, kind: str = "contrastive", mask_duplicates: bool = True, tag_weight: float = 1.0):
        super().__init__()
        if kind not in ("contrastive", "sigmoid"):
            raise ValueError(f"Unknown loss {kind!r}: use 'contrastive' (the paper's InfoNCE) or 'sigmoid' (SigLIP).")
        if not tag_weight >= 0:
            raise ValueError(f"tag_weight must be a number >= 0, got {tag_weight!r}.")
        self.kind = kind
        self.mask_duplicates = mask_duplicates
        self.tag_weight = tag_weight

    def forward(
        self,
        audio_embeds: torch.Tensor,
        text_embeds: torch.Tensor,
        logit_scale: torch.Tensor,
        logit_bias: torch.Tensor | None = None,
        text_group: torch.Tensor | None = None,
        audio_group: torch.Tensor | None = None,
        negatives: TextNegatives | None = None,
        label_embeds: torch.Tensor | None = None,
        tag_targets: torch.Tensor | None = None,
        tag_spans: torch.Tensor | list[int] | None = None,
    ) -> torch.Tensor:
        if not self.mask_duplicates:
            text_group = audio_group = None
        if self.kind == "sigmoid":
            if logit_bias is None:
                raise ValueError(
                    "The sigmoid loss needs the model's logit_bias: build the model with "
                    "MuLanConfig(logit_bias_init_value=-10.0) (what `--loss sigmoid` does)."
                )
            loss = sigmoid_loss(audio_embeds, text_embeds, logit_scale, logit_bias, text_group, audio_group, negatives)
        else:
            loss = contrastive_loss(audio_embeds, text_embeds, logit_scale, text_group, audio_group, negatives)
        if label_embeds is not None and tag_targets is not None and self.tag_weight > 0:
            spans = [int(n) for n in tag_spans] if tag_spans is not None else [label_embeds.shape[0]]
            groups = zip(label_embeds.split(spans), tag_targets.split(spans, dim=1))
            tags = [tag_loss(audio_embeds, labels, targets, logit_scale) for labels, targets in groups]
            loss = loss + self.tag_weight * torch.stack(tags).mean()
        return loss
