from .configuration_mulan import MuLanConfig
from .modeling_mulan import MuLanModel, MuLanOutput, MuLanPreTrainedModel, mulan_loss

__all__ = ["MuLanConfig", "MuLanModel", "MuLanOutput", "MuLanPreTrainedModel", "mulan_loss"]
