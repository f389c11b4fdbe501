"""mulan-hf: MuLan, a joint embedding of music audio and natural language, as native transformers classes.

Importing the package registers MuLan with the Auto classes (`AutoConfig`, `AutoModel`, `AutoFeatureExtractor`,
`AutoProcessor`) and the batched zero-shot audio classification pipeline.
"""

from transformers import AutoConfig, AutoFeatureExtractor, AutoModel, AutoModelForAudioClassification, AutoProcessor

from .modeling import (
    MuLanConfig,
    MuLanModel,
    MuLanOutput,
    MuLanPreTrainedModel,
    MusicnnConfig,
    MusicnnForAudioClassification,
    MusicnnModel,
    mulan_loss,
)
from .pipelines import MuLanZeroShotAudioClassificationPipeline, register_pipeline
from .processing import MuLanFeatureExtractor, MuLanProcessor

__version__ = "0.1.0"

AutoConfig.register("mulan", MuLanConfig, exist_ok=True)
AutoConfig.register("musicnn", MusicnnConfig, exist_ok=True)
AutoModel.register(MusicnnConfig, MusicnnModel, exist_ok=True)
AutoModelForAudioClassification.register(MusicnnConfig, MusicnnForAudioClassification, exist_ok=True)
AutoModel.register(MuLanConfig, MuLanModel, exist_ok=True)
AutoFeatureExtractor.register(MuLanConfig, MuLanFeatureExtractor, exist_ok=True)
AutoProcessor.register(MuLanConfig, MuLanProcessor, exist_ok=True)
# save_pretrained then ships the modeling / processing files as remote code with an `auto_map`.
MuLanConfig.register_for_auto_class()
MuLanModel.register_for_auto_class("AutoModel")
MuLanFeatureExtractor.register_for_auto_class("AutoFeatureExtractor")
MuLanProcessor.register_for_auto_class("AutoProcessor")
register_pipeline()

__all__ = [
    "MuLanConfig",
    "MuLanFeatureExtractor",
    "MuLanModel",
    "MuLanOutput",
    "MuLanPreTrainedModel",
    "MuLanProcessor",
    "MuLanZeroShotAudioClassificationPipeline",
    "MusicnnConfig",
    "MusicnnForAudioClassification",
    "MusicnnModel",
    "mulan_loss",
]
