"""Settings: one prefix, embedded defaults, every setting documented in the README."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from models.settings import Settings

README = (Path(__file__).parents[1] / "README.md").read_text()


def test_defaults_run_embedded_with_the_offline_model(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    settings = Settings(_env_file=None)
    assert settings.engine == "embedded"
    assert settings.embedding_model == "all-MiniLM-L6-v2"
    assert settings.catalog_path == Path("discovery-data") / "catalog.sqlite"


def test_environment_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("DISCOVERY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DISCOVERY_ENGINE", "opensearch")
    settings = Settings()
    assert settings.data_dir == tmp_path and settings.engine == "opensearch"


def test_bad_values_are_refused(monkeypatch):
    monkeypatch.setenv("DISCOVERY_ENGINE", "elastic")
    with pytest.raises(ValidationError):
        Settings()


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented(name):
    assert f"`DISCOVERY_{name.upper()}`" in README
