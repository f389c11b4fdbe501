"""MuLan's place in transformers' Auto classes and pipeline registry, filled in when transformers loads them.

`import mulan_hf` must not pay for torch and transformers' modeling code (seconds) before anything needs them. So it
only installs an import hook: the moment a program imports `transformers.models.auto.configuration_auto` (what
`AutoConfig` is), `...modeling_auto`, `...feature_extraction_auto`, `...processing_auto` or `transformers.pipelines`,
the hook registers MuLan's classes there, right after the module has run. Modules already imported are served at
once. The effect is the eager registration's: `import mulan_hf; AutoModel.from_pretrained(dir)` and
`pipeline("zero-shot-audio-classification", ...)` work as before."""

import importlib
import importlib.abc
import importlib.util
import sys
import threading
from collections.abc import Callable


def _register_configs() -> None:
    from transformers import AutoConfig

    from .modeling.configuration_mulan import MuLanConfig
    from .modeling.configuration_musicnn import MusicnnConfig

    AutoConfig.register("mulan", MuLanConfig, exist_ok=True)
    AutoConfig.register("musicnn", MusicnnConfig, exist_ok=True)


def _register_models() -> None:
    from transformers import AutoModel, AutoModelForAudioClassification

    from .modeling.configuration_mulan import MuLanConfig
    from .modeling.configuration_musicnn import MusicnnConfig
    from .modeling.modeling_mulan import MuLanModel
    from .modeling.modeling_musicnn import MusicnnForAudioClassification, MusicnnModel

    AutoModel.register(MusicnnConfig, MusicnnModel, exist_ok=True)
    AutoModelForAudioClassification.register(MusicnnConfig, MusicnnForAudioClassification, exist_ok=True)
    AutoModel.register(MuLanConfig, MuLanModel, exist_ok=True)


def _register_feature_extractor() -> None:
    from transformers import AutoFeatureExtractor

    from .modeling.configuration_mulan import MuLanConfig
    from .processing.feature_extraction_mulan import MuLanFeatureExtractor

    AutoFeatureExtractor.register(MuLanConfig, MuLanFeatureExtractor, exist_ok=True)


def _register_processor() -> None:
    from transformers import AutoProcessor

    from .modeling.configuration_mulan import MuLanConfig
    from .processing.processing_mulan import MuLanProcessor

    AutoProcessor.register(MuLanConfig, MuLanProcessor, exist_ok=True)


def _register_pipeline() -> None:
    from .pipelines import register_pipeline

    register_pipeline()


REGISTRATIONS: dict[str, Callable[[], None]] = {
    "transformers.models.auto.configuration_auto": _register_configs,
    "transformers.models.auto.modeling_auto": _register_models,
    "transformers.models.auto.feature_extraction_auto": _register_feature_extractor,
    "transformers.models.auto.processing_auto": _register_processor,
    "transformers.pipelines": _register_pipeline,
}

_lock = threading.RLock()
_pending: list[Callable[[], None]] = []
_depth = 0


def _run_pending() -> None:
    """Registrations wait until no import of a transformers or mulan_hf module is under way, so none runs while
    a module it needs is half-built (registering imports MuLan's classes, which import transformers)."""
    global _depth
    with _lock:
        if _depth:
            return
        _depth += 1
        try:
            while _pending:
                _pending.pop(0)()
        finally:
            _depth -= 1


def _watched(fullname: str) -> bool:
    return fullname.split(".")[0] in ("transformers", "mulan_hf")


class _RegisterAfterImport(importlib.abc.MetaPathFinder):
    """Finds transformers' and mulan_hf's modules through the other finders and wraps their loaders: each counts as
    an import in progress, and the hooked ones queue their registration for when no such import is under way."""

    def find_spec(self, fullname, path, target=None):
        if not _watched(fullname):
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is None:
                continue
            if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                spec.loader = _Loader(spec.loader, REGISTRATIONS.get(fullname))
            return spec
        return None


class _Loader(importlib.abc.Loader):
    def __init__(self, loader, registration: Callable[[], None] | None):
        self.loader = loader
        self.registration = registration

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        global _depth
        with _lock:
            _depth += 1
        try:
            self.loader.exec_module(module)
        finally:
            with _lock:
                _depth -= 1
                if self.registration is not None:
                    _pending.append(self.registration)
        _run_pending()

    def __getattr__(self, name):  # get_resource_reader, is_package, ... of the real loader
        return getattr(self.loader, name)


def install() -> None:
    """Serve the modules already imported now; hook the others."""
    if not any(isinstance(finder, _RegisterAfterImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _RegisterAfterImport())
    with _lock:
        _pending.extend(register for name, register in REGISTRATIONS.items() if name in sys.modules)
    _run_pending()
