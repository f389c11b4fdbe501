"""MuLan's feature extractor and processor. Names load on first use."""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

_EXPORTS = {"MuLanFeatureExtractor": ".feature_extraction_mulan", "MuLanProcessor": ".processing_mulan"}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = [
    "MuLanFeatureExtractor",
    "MuLanProcessor",
]

if TYPE_CHECKING:
    from .feature_extraction_mulan import MuLanFeatureExtractor
    from .processing_mulan import MuLanProcessor
