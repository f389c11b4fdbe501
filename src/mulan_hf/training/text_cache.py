"""A locked text tower's [CLS] states, remembered by token ids.

With the text tower locked (LiT: only its projection learns) and in eval mode, a caption's [CLS] state never changes,
yet the loop sees each caption, its counterfactual twins and the validation's labels many times: on the default
preset the tower cost 0.14 s of a 0.57 s step. `TextStateCache.install(tower)` puts a memoising `forward` on the
tower instance (the module tree, its parameters and `save_pretrained` are untouched) that runs the tower on the rows
it has not seen and returns the others from memory; `uninstall()` takes it off. `MuLanModel.get_text_features` reads
only `last_hidden_state[:, 0]`, so the cached output holds the [CLS] row alone (`(batch, 1, hidden)`).

It answers from memory only when that is exact: the tower in eval mode, no parameter of it requiring grad, no
hidden states or attentions asked for. Otherwise it calls the tower as usual."""

import torch
from torch import nn
from transformers.modeling_outputs import BaseModelOutput


class TextStateCache:
    """Memoises `tower`'s [CLS] state per (token ids, token types, autocast dtype); at most `max_entries` kept
    (further rows are computed, not stored)."""

    def __init__(self, max_entries: int = 500_000):
        self.max_entries = max_entries
        self.states: dict[tuple, torch.Tensor] = {}
        self.hits = 0
        self.misses = 0
        self.tower: nn.Module | None = None

    def install(self, tower: nn.Module) -> "TextStateCache":
        if self.tower is not None:
            raise RuntimeError("This TextStateCache is already installed on a tower; uninstall() it first.")
        self.tower = tower
        original = type(tower).forward.__get__(tower)

        def forward(input_ids=None, attention_mask=None, token_type_ids=None, **kwargs):
            if not self._exact(tower, input_ids, kwargs):
                return original(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                                **kwargs)  # fmt: skip
            return self._lookup(original, input_ids, attention_mask, token_type_ids, kwargs)

        tower.forward = forward
        tower._text_state_cache = self
        return self

    def uninstall(self) -> None:
        if self.tower is not None:
            vars(self.tower).pop("forward", None)
            vars(self.tower).pop("_text_state_cache", None)
        self.tower = None

    @staticmethod
    def of(tower: nn.Module) -> "TextStateCache | None":
        """The cache installed on `tower`, if any."""
        return vars(tower).get("_text_state_cache")

    @staticmethod
    def _exact(tower: nn.Module, input_ids, kwargs: dict) -> bool:
        asks_more = kwargs.get("output_hidden_states") or kwargs.get("output_attentions") or "inputs_embeds" in kwargs
        return (
            isinstance(input_ids, torch.Tensor)
            and not asks_more
            and not tower.training
            and not any(p.requires_grad for p in tower.parameters())
        )

    def _keys(self, input_ids, attention_mask, token_type_ids) -> list[tuple]:
        device = input_ids.device.type
        dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else None
        full = [input_ids.shape[1]] * len(input_ids)
        lengths = attention_mask.sum(dim=1).tolist() if attention_mask is not None else full
        ids = input_ids.tolist()
        types = token_type_ids.tolist() if token_type_ids is not None else [None] * len(ids)
        return [
            (str(dtype), tuple(row[:n]), tuple(kinds[:n]) if kinds is not None else None)
            for row, kinds, n in zip(ids, types, lengths)
        ]

    def _lookup(self, original, input_ids, attention_mask, token_type_ids, kwargs) -> BaseModelOutput:
        keys = self._keys(input_ids, attention_mask, token_type_ids)
        missing = [i for i, key in enumerate(keys) if key not in self.states]
        self.hits += len(keys) - len(missing)
        self.misses += len(missing)
        fresh = {}
        if missing:
            rows = torch.tensor(missing, device=input_ids.device)
            width = int(attention_mask[rows].sum(dim=1).max()) if attention_mask is not None else input_ids.shape[1]
            inputs = {"input_ids": input_ids[rows, :width]}
            if attention_mask is not None:
                inputs["attention_mask"] = attention_mask[rows, :width]
            if token_type_ids is not None:
                inputs["token_type_ids"] = token_type_ids[rows, :width]
            with torch.no_grad():
                states = original(**inputs, **kwargs).last_hidden_state[:, 0]
            for index, state in zip(missing, states):
                fresh[keys[index]] = state
                if len(self.states) < self.max_entries:
                    self.states[keys[index]] = state
        cls = torch.stack([fresh[key] if key in fresh else self.states[key] for key in keys])
        return BaseModelOutput(last_hidden_state=cls[:, None, :])
