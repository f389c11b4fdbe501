"""MuLan's model classes (and musicnn's). Names load on first use: importing the package costs nothing."""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

_EXPORTS = {
    "MTT_LABELS": ".configuration_musicnn",
    "MuLanConfig": ".configuration_mulan",
    "MuLanModel": ".modeling_mulan",
    "MuLanOutput": ".modeling_mulan",
    "MuLanPreTrainedModel": ".modeling_mulan",
    "MusicnnConfig": ".configuration_musicnn",
    "MusicnnForAudioClassification": ".modeling_musicnn",
    "MusicnnModel": ".modeling_musicnn",
    "MusicnnPreTrainedModel": ".modeling_musicnn",
    "mulan_loss": ".modeling_mulan",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = [
    "MTT_LABELS",
    "MuLanConfig",
    "MuLanModel",
    "MuLanOutput",
    "MuLanPreTrainedModel",
    "MusicnnConfig",
    "MusicnnForAudioClassification",
    "MusicnnModel",
    "MusicnnPreTrainedModel",
    "mulan_loss",
]

if TYPE_CHECKING:
    from .configuration_mulan import MuLanConfig
    from .configuration_musicnn import MTT_LABELS, MusicnnConfig
    from .modeling_mulan import MuLanModel, MuLanOutput, MuLanPreTrainedModel, mulan_loss
    from .modeling_musicnn import MusicnnForAudioClassification, MusicnnModel, MusicnnPreTrainedModel
