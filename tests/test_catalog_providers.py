"""The provider catalog: every edge cites a source, references expand lazily at load, errors are
located, a model's own definitions win, and the published 2025-10 chain is there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aftershock.analysis.structure import all_single_points_of_failure
from aftershock.catalog import providers as cat
from aftershock.errors import ModelError
from aftershock.model.compile import compile_model
from aftershock.model.load import load_model, load_model_text


def test_every_provider_and_every_edge_has_a_public_source() -> None:
    catalogs = cat.load_catalog()
    assert set(catalogs) == {"aws", "gcp", "azure", "cloudflare"}
    for catalog in catalogs.values():
        assert catalog.services
        for service in catalog.services.values():
            for edge in service.edges:
                assert edge.source.url.startswith("https://"), (service.name, edge.to)
                assert edge.source.title and edge.why
            if service.home_region:
                assert service.home_source is not None


@pytest.mark.parametrize(
    ("reference", "home"),
    [("aws:iam", "us-east-1"), ("aws:sts-global", "us-east-1"),
     ("aws:route53-control-plane", "us-east-1"), ("aws:cloudfront-control-plane", "us-east-1"),
     ("aws:console-signin", "us-east-1")],
)
def test_global_control_planes_depend_on_their_home_region(reference: str, home: str) -> None:
    expanded = cat.expand([reference])
    assert f"aws:region@{home}" in expanded[reference].component.requires


def test_global_services_of_other_providers_are_in_the_catalog() -> None:
    for ref in ("gcp:service-control-policy", "gcp:iam", "azure:front-door", "azure:entra-id"):
        assert not cat.expand([ref])[ref].component.placement.region
    assert "azure:front-door" in cat.expand(["azure:entra-id"])["azure:entra-id"].component.requires
    assert "gcp:service-control-policy" in cat.expand(["gcp:iam"])["gcp:iam"].component.requires
    # Service Control is regional, but its policy data is global: a common cause of all regions.
    both = cat.expand(["gcp:cloud-storage@us-central1", "gcp:bigquery@europe-west1"])
    assert {"gcp:service-control@us-central1", "gcp:service-control@europe-west1",
            "gcp:service-control-policy"} <= set(both)


def test_expansion_is_lazy_and_follows_the_published_chain() -> None:
    model = load_model_text(
        "version: 1\ncomponents:\n  api: {requires: ['aws:lambda@us-east-1']}\n"
    )
    names = set(model.components)
    # Lambda -> EC2 launches -> DWFM -> DynamoDB -> its DNS record (AWS, 2025-10-19/20).
    for name in ("aws:lambda@us-east-1", "aws:ec2-launch@us-east-1", "aws:ec2-dwfm@us-east-1",
                 "aws:dynamodb@us-east-1", "aws:dynamodb-dns@us-east-1", "aws:region@us-east-1"):
        assert name in names
    # Nothing that Lambda does not reach: no other region, no NLB, no IAM, no other provider.
    assert not any("eu-west-1" in n or n.startswith(("gcp:", "azure:")) for n in names)
    assert "aws:nlb@us-east-1" not in names and "aws:iam" not in names
    record = model.components["aws:dynamodb-dns@us-east-1"]
    assert record.kind == "dns_record" and record.record == "dynamodb.us-east-1.amazonaws.com"
    lam = model.components["aws:lambda@us-east-1"]
    assert lam.kind == "provider_service"
    assert lam.placement is not None and lam.placement.provider == "aws"
    assert lam.placement.region == "us-east-1"
    assert "101925" in str(lam.tags["source.aws:dynamodb@us-east-1"])
    assert lam.tags["source"] == "catalog:aws"


def test_dynamodb_dns_record_is_a_hidden_spof_of_a_lambda_api() -> None:
    model = load_model_text("version: 1\ncomponents:\n  api: {requires: ['aws:lambda@us-east-1']}\n")
    spofs = all_single_points_of_failure(compile_model(model), ["api"])["api"]
    assert "aws:dynamodb-dns@us-east-1" in spofs and "aws:region@us-east-1" in spofs


def test_cross_provider_edge_cloudflare_kv_on_google_cloud() -> None:
    expanded = cat.expand(["cloudflare:access"])
    assert "gcp:service-control-policy" in expanded
    assert "cloudflare:bot-management-features" in expanded


def test_origin_points_at_the_catalog_file_so_errors_can_locate_it() -> None:
    model = load_model_text("version: 1\ncomponents:\n  a: {requires: ['aws:sqs@eu-west-1']}\n")
    file, line, _ = model.locate("aws:sqs@eu-west-1")
    assert file is not None and file.endswith("providers/aws.yaml") and line


def test_a_component_defined_by_the_model_wins_over_the_catalog() -> None:
    model = load_model_text(
        "version: 1\ncomponents:\n"
        "  api: {requires: ['aws:dynamodb@us-east-1']}\n"
        "  'aws:dynamodb@us-east-1': {kind: provider_service, unavailability: 0.001}\n"
    )
    assert model.components["aws:dynamodb@us-east-1"].unavailability == 0.001
    assert "aws:dynamodb-dns@us-east-1" not in model.components


@pytest.mark.parametrize(
    ("ref", "message", "hint"),
    [("aws:dynamo@us-east-1", "no service 'dynamo'", "did you mean 'dynamodb'"),
     ("aws:dynamodb@us-east1", "unknown Amazon Web Services region", "did you mean 'us-east-1'"),
     ("aws:dynamodb", "regional service", "aws:dynamodb@us-east-1"),
     ("aws:iam@us-east-1", "is global", "control plane lives in us-east-1")],
)
def test_bad_reference_is_a_located_error_with_a_hint(tmp_path: Path, ref: str, message: str,
                                                      hint: str) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(f"version: 1\ncomponents:\n  a:\n    requires: ['{ref}']\n")
    with pytest.raises(ModelError) as info:
        load_model(path)
    err = info.value
    assert message in err.message and hint in (err.hint or "")
    assert err.file == str(path) and err.line == 4 and err.component == "a"


def test_names_with_a_colon_that_are_not_provider_references_are_left_to_the_model() -> None:
    with pytest.raises(ModelError, match="unknown component 'team:db'"):
        load_model_text("version: 1\ncomponents:\n  a: {requires: ['team:db']}\n")


def test_catalog_command_lists_and_explains_with_sources(run_cli) -> None:
    listing = run_cli("catalog", "--format", "json")
    assert listing.exit_code == 0
    assert {r["provider"] for r in json.loads(listing.stdout)} == {"aws", "gcp", "azure", "cloudflare"}
    chain = run_cli("catalog", "aws:ec2-launch@us-east-1", "--format", "json")
    data = json.loads(chain.stdout)
    edges = data["components"]["aws:ec2-dwfm@us-east-1"]
    assert any(e["to"] == "aws:dynamodb@us-east-1" and "101925" in e["url"] for e in edges)
    bad = run_cli("catalog", "aws:lamda@us-east-1")
    assert bad.exit_code == 2 and "did you mean 'lambda'" in bad.stderr
    text = run_cli("catalog", "gcp")
    assert text.exit_code == 0 and "gcp:service-control" in text.stdout
