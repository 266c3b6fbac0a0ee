# The Discovery app (web pages, JSON API and CLI); compose.yaml runs it against OpenSearch.

# KaTeX (maths on the pages) from the npm registry, as scripts/venv.sh installs it in development.
FROM node:20-slim AS katex
COPY scripts/venv.sh /venv.sh
RUN bash -c 'cd / && mkdir -p web/static && source /venv.sh && install_katex'

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# CPU-only PyTorch first: sentence-transformers would otherwise pull the much larger CUDA build.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch

COPY pyproject.toml README.md ./
COPY models ./models
COPY indexer ./indexer
COPY search ./search
COPY web ./web
COPY --from=katex /web/static/katex ./web/static/katex
RUN pip install .

RUN useradd --create-home --uid 10001 discovery \
    && mkdir -p /data \
    && chown discovery /data
USER discovery

ENV DISCOVERY_DATA_DIR=/data \
    DISCOVERY_ENGINE=opensearch \
    DISCOVERY_OPENSEARCH_URL=http://opensearch:9200
VOLUME ["/data"]
EXPOSE 8000

CMD ["discovery", "serve", "--host", "0.0.0.0"]
