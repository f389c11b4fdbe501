import numpy as np
import pytest
import torch
from conftest import SAMPLING_RATE, tone
from transformers import AutoProcessor

from mulan_hf import MuLanFeatureExtractor, MuLanProcessor


def test_text_and_audio_in_one_call(processor, tokenizer, feature_extractor):
    texts = ["calm piano for late-night study", "rock"]
    clips = [tone(440, 2.0), tone(220, 0.3)]
    inputs = processor(text=texts, audio=clips, sampling_rate=SAMPLING_RATE, return_tensors="pt")
    assert set(inputs) == {"input_ids", "attention_mask", "token_type_ids", "input_features", "window_mask"}
    expected_text = tokenizer(texts, padding=True, return_tensors="pt")
    assert torch.equal(inputs["input_ids"], expected_text["input_ids"])
    assert tokenizer.convert_ids_to_tokens(inputs["input_ids"][1, :3].tolist()) == ["[CLS]", "rock", "[SEP]"]
    expected_audio = feature_extractor(clips, sampling_rate=SAMPLING_RATE, return_tensors="pt")
    assert torch.equal(inputs["input_features"], expected_audio["input_features"])
    assert "window_mask" in processor.model_input_names and "input_ids" in processor.model_input_names


def test_text_only_and_audio_only(processor):
    assert set(processor(text="jazz", return_tensors="pt")) == {"input_ids", "attention_mask", "token_type_ids"}
    audio_only = processor(audio=tone(440, 1.0), sampling_rate=SAMPLING_RATE, windows="first", return_tensors="pt")
    assert set(audio_only) == {"input_features", "window_mask"}


def test_long_texts_are_truncated(processor, tokenizer):
    ids = processor(text=["music " * 2000], return_tensors="pt")["input_ids"]
    assert ids.shape[1] == tokenizer.model_max_length


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        (["fine", 3], TypeError, "item 1 is a int"),
        ([], TypeError, "non-empty list"),
        (42, TypeError, "string or a non-empty list"),
        ([None], TypeError, "only strings"),
    ],
)
def test_bad_text_gets_a_clear_error(processor, text, error, message):
    with pytest.raises(error, match=message):
        processor(text=text)


def test_nothing_to_process(processor):
    with pytest.raises(ValueError, match="needs `text`, `audio` or both"):
        processor()


def test_save_and_load_with_auto_processor(tmp_path, processor):
    processor.save_pretrained(tmp_path)
    loaded = AutoProcessor.from_pretrained(tmp_path)
    assert isinstance(loaded, MuLanProcessor)
    assert isinstance(loaded.feature_extractor, MuLanFeatureExtractor)
    assert loaded.feature_extractor.to_dict() == processor.feature_extractor.to_dict()
    clip = tone(330, 1.5)
    a = processor(text=["ambient drone"], audio=clip, sampling_rate=SAMPLING_RATE, return_tensors="pt")
    b = loaded(text=["ambient drone"], audio=clip, sampling_rate=SAMPLING_RATE, return_tensors="pt")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_decode_passes_through_to_the_tokenizer(processor):
    ids = processor(text=["upbeat brass band", "sad strings"], return_tensors="np")["input_ids"]
    assert processor.batch_decode(ids, skip_special_tokens=True) == ["upbeat brass band", "sad strings"]
    assert processor.decode(ids[1], skip_special_tokens=True) == "sad strings"
    assert isinstance(ids, np.ndarray)
