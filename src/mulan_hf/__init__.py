"""mulan-hf: MuLan, a joint embedding of music audio and natural language, as native transformers classes.

Importing the package registers MuLan with the Auto classes (`AutoConfig`, `AutoModel`, `AutoFeatureExtractor`,
`AutoProcessor`) and the batched zero-shot audio classification pipeline: at once for the parts of transformers
already imported, otherwise the moment transformers imports them (`_registration`). The names below load on first
use, so `import mulan_hf` stays about as quick as `import transformers`.
"""

from typing import TYPE_CHECKING

from . import _registration
from ._lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "MuLanConfig": ".modeling",
    "MuLanModel": ".modeling",
    "MuLanOutput": ".modeling",
    "MuLanPreTrainedModel": ".modeling",
    "MusicnnConfig": ".modeling",
    "MusicnnForAudioClassification": ".modeling",
    "MusicnnModel": ".modeling",
    "mulan_loss": ".modeling",
    "MuLanFeatureExtractor": ".processing",
    "MuLanProcessor": ".processing",
    "MuLanZeroShotAudioClassificationPipeline": ".pipelines",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
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

_registration.install()

if TYPE_CHECKING:
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
    from .pipelines import MuLanZeroShotAudioClassificationPipeline
    from .processing import MuLanFeatureExtractor, MuLanProcessor
