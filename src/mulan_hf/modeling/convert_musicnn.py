"""Load the musicnn weights that the PyPI package `musicnn` ships (TensorFlow 1 checkpoints trained on real music)
into [`MusicnnForAudioClassification`], without TensorFlow.

`musicnn` pins TensorFlow 1-era numpy, so install it without its dependencies: `pip install --no-deps musicnn`
(scripts/setup.sh does). Its checkpoint is a TensorFlow tensor bundle: a `.index` table (LevelDB's sorted-table
format, uncompressed) mapping each variable name to a `BundleEntryProto` (dtype, shape, offset, size) and a `.data`
file with the raw little-endian tensors. The reader below decodes exactly that; it was checked once against
TensorFlow 2.21's `NewCheckpointReader` on MTT_musicnn (same 64 tensors; the ported model's tags equal
TensorFlow's to 6e-6, see tests/test_musicnn.py for the recorded reference).
"""

import itertools
import struct
from pathlib import Path

import numpy as np
import torch

from .configuration_musicnn import MTT_LABELS, MusicnnConfig
from .modeling_musicnn import MusicnnForAudioClassification

MUSICNN_MODELS = {"MTT_musicnn": MTT_LABELS}
_TABLE_MAGIC = 0xDB4775248B80FB57
_DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 9: np.int64}


def _varint(buffer: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buffer[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
        shift += 7


def _block_entries(table: bytes, offset: int, size: int) -> list[tuple[bytes, bytes]]:
    """Key/value pairs of one sorted-table block (keys are prefix-compressed against the previous key)."""
    if table[offset + size] != 0:
        raise ValueError("compressed checkpoint index blocks are not supported; re-save the checkpoint")
    block = table[offset : offset + size]
    (num_restarts,) = struct.unpack_from("<I", block, size - 4)
    end, position, key, entries = size - 4 - 4 * num_restarts, 0, b"", []
    while position < end:
        shared, position = _varint(block, position)
        unshared, position = _varint(block, position)
        value_length, position = _varint(block, position)
        key = key[:shared] + block[position : position + unshared]
        position += unshared
        entries.append((key, block[position : position + value_length]))
        position += value_length
    return entries


def _fields(message: bytes):
    """(field number, value) of each field of a protobuf message: an int for varints, bytes for length-delimited
    fields (fixed32 fields, the entry's checksum, are skipped)."""
    position = 0
    while position < len(message):
        tag, position = _varint(message, position)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            value, position = _varint(message, position)
        elif wire == 2:
            length, position = _varint(message, position)
            value, position = message[position : position + length], position + length
        elif wire == 5:
            position += 4
            continue
        else:
            raise ValueError(f"unexpected protobuf wire type {wire} in a checkpoint index entry")
        yield field, value


def _bundle_entry(message: bytes) -> dict:
    """dtype (1), shape (2: repeated dim (2) with size (1)), shard (3), offset (4), size (5) of a BundleEntryProto."""
    names = {1: "dtype", 3: "shard", 4: "offset", 5: "size"}
    entry = {"shape": []}
    for field, value in _fields(message):
        if field == 2:  # TensorShapeProto
            dims = (dict(_fields(dim)) for number, dim in _fields(value) if number == 2)
            entry["shape"] = [dim.get(1, 0) for dim in dims]
        elif field in names:
            entry[names[field]] = value
    return entry


def read_tf_checkpoint(prefix: str | Path) -> dict[str, np.ndarray]:
    """All tensors of a single-shard TensorFlow checkpoint (`prefix.index` + `prefix.data-00000-of-00001`)."""
    prefix = str(prefix)
    index_path, data_path = Path(prefix + ".index"), Path(prefix + ".data-00000-of-00001")
    for path in (index_path, data_path):
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist: not a single-shard TensorFlow checkpoint.")
    table = index_path.read_bytes()
    if struct.unpack_from("<Q", table, len(table) - 8)[0] != _TABLE_MAGIC:
        raise ValueError(f"{index_path} is not a TensorFlow checkpoint index (bad table magic).")
    position = len(table) - 48
    _, position = _varint(table, position)  # metaindex handle (unused)
    _, position = _varint(table, position)
    index_offset, position = _varint(table, position)
    index_size, _ = _varint(table, position)
    data = data_path.read_bytes()
    tensors = {}
    for _, handle in _block_entries(table, index_offset, index_size):
        block_offset, cursor = _varint(handle, 0)
        block_size, _ = _varint(handle, cursor)
        for key, value in _block_entries(table, block_offset, block_size):
            if not key:  # the bundle header
                continue
            entry = _bundle_entry(value)
            if entry.get("dtype") not in _DTYPES:
                continue
            start = entry.get("offset", 0)
            array = np.frombuffer(data[start : start + entry["size"]], dtype=_DTYPES[entry["dtype"]])
            tensors[key.decode()] = array.reshape(entry["shape"]).copy()
    return tensors


def musicnn_state_dict(tensors: dict[str, np.ndarray], config: MusicnnConfig) -> dict[str, torch.Tensor]:
    """Map the published graph's variable names (in layer-creation order) to [`MusicnnForAudioClassification`]."""
    state: dict[str, np.ndarray] = {}
    norms, convs = itertools.count(), itertools.count()  # TensorFlow numbers layers of a kind in creation order

    def name(kind: str, counter) -> str:
        number = next(counter)
        return kind if number == 0 else f"{kind}_{number}"

    def norm(target: str) -> None:
        source = name("batch_normalization", norms)
        for ours, theirs in (("weight", "gamma"), ("bias", "beta"), ("running_mean", "moving_mean")):
            state[f"{target}.{ours}"] = tensors[f"{source}/{theirs}"]
        state[f"{target}.running_var"] = tensors[f"{source}/moving_variance"]

    def conv(target: str, one_d: bool = False) -> None:
        source = name("conv2d", convs)
        kernel = tensors[f"{source}/kernel"]  # (height, width, in, out)
        state[f"{target}.weight"] = kernel[:, :, 0, :].transpose(2, 1, 0) if one_d else kernel.transpose(3, 2, 0, 1)
        state[f"{target}.bias"] = tensors[f"{source}/bias"]

    base = "musicnn."
    norm(base + "frontend.input_norm")
    for i in range(len(config.timbral_heights)):
        conv(f"{base}frontend.timbral.{i}")
        norm(f"{base}frontend.timbral_norm.{i}")
    for i in range(len(config.temporal_frames)):
        conv(f"{base}frontend.temporal.{i}")
        norm(f"{base}frontend.temporal_norm.{i}")
    for i in range(config.midend_layers):
        conv(f"{base}midend.convs.{i}", one_d=True)
        norm(f"{base}midend.norms.{i}")
    norm(base + "pool_norm")
    state["dense.weight"], state["dense.bias"] = tensors["dense/kernel"].T, tensors["dense/bias"]
    norm("dense_norm")
    state["classifier.weight"], state["classifier.bias"] = tensors["dense_1/kernel"].T, tensors["dense_1/bias"]
    return {key: torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32)) for key, value in state.items()}


def musicnn_package_checkpoint(name: str = "MTT_musicnn") -> str:
    """The checkpoint prefix of one of the models the PyPI package `musicnn` ships (its files are
    `<name>/.index` and `<name>/.data-00000-of-00001`, so the prefix ends with a slash)."""
    if name not in MUSICNN_MODELS:
        raise ValueError(f"Unknown musicnn model {name!r}; known: {sorted(MUSICNN_MODELS)}.")
    import importlib.util

    spec = importlib.util.find_spec("musicnn")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "The pretrained musicnn audio tower comes from the PyPI package 'musicnn', which ships its weights: "
            "`pip install --no-deps musicnn==0.1.0` (no dependencies: it pins TensorFlow-1-era numpy; mulan-hf "
            "only reads its checkpoint files). scripts/setup.sh installs it."
        )
    return str(Path(next(iter(spec.submodule_search_locations))) / name) + "/"


def load_musicnn(name: str = "MTT_musicnn", checkpoint: str | Path | None = None) -> MusicnnForAudioClassification:
    """The published musicnn tagger with its weights (from the `musicnn` package, or a checkpoint prefix)."""
    prefix = str(checkpoint) if checkpoint is not None else musicnn_package_checkpoint(name)
    labels = MUSICNN_MODELS.get(name, MTT_LABELS)
    config = MusicnnConfig(id2label=dict(enumerate(labels)), label2id={label: i for i, label in enumerate(labels)})
    model = MusicnnForAudioClassification(config)
    state = musicnn_state_dict(read_tf_checkpoint(prefix), config)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [key for key in missing if not key.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise ValueError(f"musicnn checkpoint {prefix} does not match: missing {missing}, unexpected {unexpected}.")
    return model.eval()


def save_packaged_musicnn(folder: str | Path, name: str = "MTT_musicnn") -> Path:
    """Convert the packaged musicnn once into a transformers folder (config.json + safetensors) and return it;
    an existing conversion is reused."""
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        load_musicnn(name).save_pretrained(folder)
    return folder


__all__ = ["load_musicnn", "musicnn_package_checkpoint", "read_tf_checkpoint", "save_packaged_musicnn"]
