"""The ONNX embedding backends: exported once from the shipped weights, offline, same vectors as torch
(int8: close to them), and never mixed with torch vectors in the cache."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from models.embedding import Embedder
from models.settings import Settings
from tests.support import real_embedder

TEXTS = [
    "Stochastic gradient descent with momentum on deep neural networks",
    "A relational model of data for large shared data banks",
    "Saarbrücken",
    "",
]


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


def test_onnx_gives_the_torch_vectors(export_dir, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the export reads the shipped weights only
    reference = real_embedder().embed(TEXTS)
    onnx = Embedder(backend="onnx", export_dir=export_dir)
    vectors = onnx.embed(TEXTS)
    assert vectors.shape == reference.shape and vectors.dtype == reference.dtype
    assert (vectors * reference).sum(axis=1).min() > 0.9999
    assert [p.name for p in export_dir.iterdir()] == ["all-MiniLM-L6-v2.onnx"]
    exported = (export_dir / "all-MiniLM-L6-v2.onnx").stat().st_mtime_ns
    Embedder(backend="onnx", export_dir=export_dir).embed(TEXTS[:1])  # a second process reuses the export
    assert (export_dir / "all-MiniLM-L6-v2.onnx").stat().st_mtime_ns == exported


def test_int8_is_close_to_torch_and_cached_apart(export_dir):
    reference = real_embedder().embed(TEXTS[:3])
    int8 = Embedder(backend="onnx-int8", export_dir=export_dir)
    vectors = int8.embed(TEXTS[:3])
    assert (vectors * reference).sum(axis=1).min() > 0.9
    assert len({real_embedder().cache_key, Embedder(backend="onnx").cache_key, int8.cache_key}) == 3


def test_the_setting_selects_the_backend(tmp_path):
    embedder = Settings(data_dir=tmp_path, embedding_backend="onnx-int8").embedder()
    assert embedder.backend == "onnx-int8" and embedder.export_dir == tmp_path / "models"
    assert Settings(data_dir=tmp_path).embedder().backend == "torch"
    with pytest.raises(ValidationError):
        Settings(embedding_backend="tensorrt")
