"""Embedding throughput per backend (torch, onnx, onnx-int8) on the same real texts.

    .venv/bin/python -m bench.embedding [COLLECTION] [--texts 512]

COLLECTION is a judged collection `discovery eval` reads (default `cacm`); its documents' embedding
texts are embedded once per backend after a warm-up batch, and texts/s printed as one JSON line per
backend, with the smallest cosine between that backend's vector and torch's for the same text.
Relevance per backend: `DISCOVERY_EMBEDDING_BACKEND=... discovery eval cacm`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bench.machine import describe
from evaluation.relevance import load_collection
from models.embedding import Embedder

BACKENDS = ("torch", "onnx", "onnx-int8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("collection", nargs="?", default="cacm")
    parser.add_argument("--texts", type=int, default=512)
    args = parser.parse_args()
    works, _ = load_collection(args.collection).load_works()
    texts = [w.embedding_text() for w in works][: args.texts]
    print(f"machine: {describe()}", flush=True)
    reference = None
    with tempfile.TemporaryDirectory() as export_dir:
        for backend in BACKENDS:
            embedder = Embedder(backend=backend, export_dir=Path(export_dir))
            embedder.embed(texts[:64])  # loads (and for ONNX exports) the model
            clock = time.perf_counter()
            vectors = embedder.embed(texts)
            seconds = time.perf_counter() - clock
            reference = vectors if reference is None else reference
            agreement = float((vectors * reference).sum(axis=1).min())
            print(json.dumps({"backend": backend, "texts": len(texts), "texts_per_s": round(len(texts) / seconds, 1),
                              "min_cosine_to_torch": round(agreement, 4)}), flush=True)


if __name__ == "__main__":
    main()
