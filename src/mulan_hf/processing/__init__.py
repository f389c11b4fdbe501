from .feature_extraction_mulan import MuLanFeatureExtractor
from .processing_mulan import MuLanProcessor

__all__ = ["MuLanFeatureExtractor", "MuLanProcessor"]
