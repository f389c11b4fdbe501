from .configuration_mulan import MuLanConfig
from .configuration_musicnn import MTT_LABELS, MusicnnConfig
from .modeling_mulan import MuLanModel, MuLanOutput, MuLanPreTrainedModel, mulan_loss
from .modeling_musicnn import MusicnnForAudioClassification, MusicnnModel, MusicnnPreTrainedModel

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
