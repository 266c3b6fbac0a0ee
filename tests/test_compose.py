"""compose.yaml and the Dockerfile cannot run here (no Docker engine): check their structure instead."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def script_version() -> str:
    """The OpenSearch version scripts/opensearch-node.sh runs in development and CI."""
    match = re.search(r"^OS_VERSION=([0-9.]+)\s*$", (ROOT / "scripts" / "opensearch-node.sh").read_text(), re.M)
    assert match, "scripts/opensearch-node.sh no longer sets OS_VERSION"
    return match.group(1)


def env(service: dict) -> dict[str, str]:
    """`environment` as a dict, whether written as a mapping or as a list of KEY=VALUE."""
    value = service.get("environment") or {}
    if isinstance(value, list):
        value = dict(item.split("=", 1) for item in value)
    return {str(k): str(v) for k, v in value.items()}


CLUSTER_NODES = ("opensearch-1", "opensearch-2", "opensearch-3")


def test_services_and_named_volumes(compose):
    by_profile = {name: tuple(service.get("profiles", ())) for name, service in compose["services"].items()}
    assert {name for name, profiles in by_profile.items() if not profiles} == {"opensearch", "app"}
    assert {name for name, profiles in by_profile.items() if profiles == ("cluster",)} == {*CLUSTER_NODES, "app-cluster"}
    assert set(compose["volumes"]) >= {"opensearch-data"}
    declared = set(compose["volumes"])
    for service in compose["services"].values():
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0] if isinstance(mount, str) else mount["source"]
            if not source.startswith((".", "/")):
                assert source in declared, f"volume {source} is not declared"


def test_opensearch_is_the_official_image_at_the_scripts_version(compose):
    image = compose["services"]["opensearch"]["image"]
    assert image == f"opensearchproject/opensearch:{script_version()}"


def test_opensearch_single_node_without_security_and_with_heap(compose):
    service = compose["services"]["opensearch"]
    variables = env(service)
    assert variables["discovery.type"] == "single-node"
    assert variables["DISABLE_SECURITY_PLUGIN"] == "true"
    assert variables["DISABLE_INSTALL_DEMO_CONFIG"] == "true"
    assert re.search(r"-Xms\d+[mg]", variables["OPENSEARCH_JAVA_OPTS"])
    assert re.search(r"-Xmx\d+[mg]", variables["OPENSEARCH_JAVA_OPTS"])
    assert any(str(m).startswith("opensearch-data:/usr/share/opensearch/data") for m in service["volumes"])
    text = (ROOT / "compose.yaml").read_text().lower()
    assert "local use only" in text  # security being off is documented where it is switched off


def test_published_ports_are_loopback_only(compose):
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)


def test_opensearch_healthcheck_asks_cluster_health(compose):
    check = compose["services"]["opensearch"]["healthcheck"]
    command = " ".join(check["test"]) if isinstance(check["test"], list) else check["test"]
    assert "curl" in command and "_cluster/health" in command and "9200" in command
    assert check["retries"] >= 1 and check["interval"]


def test_app_is_built_here_and_waits_for_a_healthy_opensearch(compose):
    app = compose["services"]["app"]
    build = app["build"]
    context = build if isinstance(build, str) else build.get("context", ".")
    dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
    assert (ROOT / context / dockerfile).is_file()
    assert app["depends_on"]["opensearch"]["condition"] == "service_healthy"
    variables = env(app)
    assert variables["DISCOVERY_ENGINE"] == "opensearch"
    assert variables["DISCOVERY_OPENSEARCH_URL"] == "http://opensearch:9200"
    command = app.get("command")
    command = " ".join(command) if isinstance(command, list) else (command or "")
    assert "discovery serve" in command and "0.0.0.0" in command


def test_app_settings_are_real_settings(compose):
    """Every DISCOVERY_* variable compose sets is a field of Settings (a typo would be silently ignored)."""
    from models.settings import Settings

    fields = {f"DISCOVERY_{name.upper()}" for name in Settings.model_fields}
    for app in ("app", "app-cluster"):
        variables = {k: v for k, v in env(compose["services"][app]).items() if k.startswith("DISCOVERY_")}
        assert set(variables) <= fields, set(variables) - fields
        Settings(**{k.removeprefix("DISCOVERY_").lower(): v for k, v in variables.items()})  # values validate


def test_cluster_profile_is_three_nodes_of_one_cluster(compose):
    services = compose["services"]
    single = env(services["opensearch"])
    for name in CLUSTER_NODES:
        node = services[name]
        variables = env(node)
        assert node["image"] == services["opensearch"]["image"]
        assert variables["node.name"] == name
        assert "discovery.type" not in variables  # a single-node node never joins a cluster
        assert variables["cluster.name"] == "discovery-cluster"
        assert variables["discovery.seed_hosts"].split(",") == list(CLUSTER_NODES)
        assert variables["cluster.initial_cluster_manager_nodes"].split(",") == list(CLUSTER_NODES)
        assert variables["DISABLE_SECURITY_PLUGIN"] == single["DISABLE_SECURITY_PLUGIN"] == "true"
        heap = re.search(r"-Xmx(\d+)([mg])", variables["OPENSEARCH_JAVA_OPTS"])
        assert heap and int(heap.group(1)) * (1024 if heap.group(2) == "g" else 1) <= 1024
        assert any(str(m).startswith(f"{name}-data:/usr/share/opensearch/data") for m in node["volumes"])
        assert "wait_for_nodes=3" in " ".join(node["healthcheck"]["test"])


def test_cluster_app_knows_every_node_and_keeps_a_replica(compose):
    app = compose["services"]["app-cluster"]
    variables = env(app)
    assert variables["DISCOVERY_OPENSEARCH_URL"].split(",") == [f"http://{name}:9200" for name in CLUSTER_NODES]
    assert int(variables["DISCOVERY_OPENSEARCH_REPLICAS"]) >= 1
    assert {name: dep["condition"] for name, dep in app["depends_on"].items()} == dict.fromkeys(CLUSTER_NODES, "service_healthy")
    assert app["build"] == compose["services"]["app"]["build"]
    assert app["command"] == compose["services"]["app"]["command"]


def test_dockerfile():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.M)
    assert re.search(r"^RUN pip install \.$", text, re.M)
    assert re.search(r'^CMD \["discovery", "serve", "--host", "0\.0\.0\.0"\]$', text, re.M)
    assert re.search(r"^USER (?!root)\S+", text, re.M)  # not as root
    assert re.search(r"^COPY --from=katex \S+ \./web/static/katex$", text, re.M), "KaTeX is not in the image"
    for path in re.findall(r"^COPY (?!--from)(\S+) ", text, re.M):  # everything copied exists in the repository
        assert (ROOT / path).exists(), path
    for package in ("models", "indexer", "search", "web"):
        assert re.search(rf"^COPY {package} ", text, re.M), f"{package}/ is not copied into the image"
