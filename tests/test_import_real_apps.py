"""Importing real application descriptions in place (../shared/benchmarks/real-apps): Google's
Online Boutique Kubernetes manifests and the OpenTelemetry demo's compose file must yield the
services and edges their own README lists, as a valid model v1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aftershock.importers import import_sources
from aftershock.importers.merge import to_yaml
from aftershock.model.load import load_model_text

from .conftest import SHARED

APPS = SHARED / "benchmarks" / "real-apps"
BOUTIQUE = APPS / "online-boutique" / "kubernetes-manifests.yaml"
OTEL = APPS / "otel-demo" / "compose.yaml"
OTEL_ENV = APPS / "otel-demo" / "env"

needs_apps = pytest.mark.skipif(
    not BOUTIQUE.is_file() or not OTEL.is_file(),
    reason=f"real application descriptions not found at {APPS} (../shared next to the checkout)",
)


def edges(model, name: str, key: str = "requires") -> set[str]:
    return set(getattr(model.components[name], key))


@needs_apps
def test_online_boutique_services_and_edges() -> None:
    result = import_sources([str(BOUTIQUE)])
    model = load_model_text(to_yaml(result, "boutique"))
    assert edges(model, "frontend") >= {
        "adservice", "cartservice", "checkoutservice", "currencyservice", "productcatalogservice",
        "recommendationservice", "shippingservice", "shoppingassistantservice"}
    assert edges(model, "checkoutservice") == {
        "cartservice", "currencyservice", "emailservice", "paymentservice",
        "productcatalogservice", "shippingservice"}
    assert edges(model, "recommendationservice") == {"productcatalogservice"}
    assert edges(model, "cartservice") == {"redis-cart"}
    assert edges(model, "loadgenerator") == {"frontend"}
    assert model.components["redis-cart"].kind == "cache"
    # The LoadBalancer Service in front of the frontend is the entry point.
    assert edges(model, "frontend-external") == {"frontend"}
    # Not defined in these manifests, only named by the frontend: a placeholder, said so.
    assert model.components["shoppingassistantservice"].tags["placeholder"] is True
    assert any("shoppingassistantservice" in a for a in result.assumptions)
    assert model.components["frontend"].tags["source"] == "k8s:online-boutique/kubernetes-manifests.yaml"
    assert any(s.what == "11 ServiceAccounts" for s in result.skipped)


@needs_apps
def test_otel_demo_services_and_edges_with_telemetry_soft() -> None:
    result = import_sources([str(OTEL)], env_file=str(OTEL_ENV))
    model = load_model_text(to_yaml(result, "otel-demo"))
    assert edges(model, "checkout") >= {
        "cart", "currency", "email", "payment", "product-catalog", "shipping"}
    assert edges(model, "frontend") >= {
        "ad", "cart", "checkout", "currency", "image-provider", "product-catalog", "quote",
        "recommendation", "shipping"}
    assert edges(model, "cart") >= {"valkey-cart"}
    assert edges(model, "product-catalog") >= {"astronomy-db"}
    assert edges(model, "recommendation") >= {"product-catalog"}
    # Telemetry is soft by default (assumed and said); flagd stays hard unless the user says so.
    for name in ("checkout", "cart", "frontend", "ad", "payment"):
        assert "otel-collector" in edges(model, name, "uses")
        assert "otel-collector" not in edges(model, name)
        assert "flagd" in edges(model, name)
    assert any("telemetry" in a and "otel-collector" in a for a in result.assumptions)
    assert model.components["valkey-cart"].kind == "cache"
    assert model.components["astronomy-db"].kind == "datastore"


@needs_apps
def test_otel_demo_soft_and_hard_are_the_users_choice() -> None:
    result = import_sources([str(OTEL)], env_file=str(OTEL_ENV), soft=["flagd"],
                            hard=["otel-collector"])
    model = load_model_text(to_yaml(result))
    assert "flagd" in edges(model, "checkout", "uses") and "flagd" not in edges(model, "checkout")
    assert "otel-collector" in edges(model, "checkout")


@needs_apps
def test_otel_demo_passwords_in_the_env_file_never_reach_the_model() -> None:
    text = to_yaml(import_sources([str(OTEL)], env_file=str(OTEL_ENV)))
    secrets = [line.split("=", 1)[1].split()[0] for line in OTEL_ENV.read_text().splitlines()
               if "PASSWORD=" in line and not line.startswith("#")]
    assert secrets, "the env file is expected to hold the demo's database passwords"
    for secret in secrets:
        assert secret not in text


@needs_apps
def test_merging_two_sources_unions_edges_and_keeps_provenance(tmp_path: Path, run_cli) -> None:
    out = tmp_path / "both.yaml"
    result = run_cli("import", BOUTIQUE, OTEL, "--env-file", OTEL_ENV, "-o", out, "-f", "json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["output"] == str(out) and report["components"] > 30
    model = load_model_text(out.read_text())
    frontend = model.components["frontend"]  # in both apps: one component, union of edges
    assert {"adservice", "ad", "image-provider"} <= set(frontend.requires)
    assert frontend.tags["source"] == (
        "k8s:online-boutique/kubernetes-manifests.yaml, compose:otel-demo/compose.yaml")
    again = run_cli("validate", out)
    assert again.exit_code == 0
