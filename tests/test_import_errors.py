"""Unreadable or partial inputs: located messages, what could be imported is, what was skipped is
listed (printed and in JSON); arbitrary input never crashes an importer (hypothesis)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aftershock.errors import AftershockError
from aftershock.importers import import_sources, importer
from aftershock.importers.merge import to_yaml
from aftershock.model.load import load_model_text

PARTIAL_K8S = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers: [{name: web, image: nginx, env: [{name: API_ADDR, value: "api:80"}]}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec: {template: {metadata: {labels: {app: api}}, spec: {containers: [{name: api, image: x}]}}}
---
apiVersion: v1
kind: Service
metadata: {name: api}
spec: {selector: {app: api}}
---
kind: Deployment
metadata: {name: broken
  spec: [
"""


def test_partial_manifest_imports_what_it_can_and_locates_the_error(tmp_path: Path, run_cli) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(PARTIAL_K8S)
    out = tmp_path / "m.yaml"
    result = run_cli("import", path, "-o", out, "--format", "json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["components"] == 2 and report["edges"] == 1
    [skipped] = report["skipped"]
    assert skipped["file"] == str(path) and skipped["line"] in (21, 22)
    assert "YAML syntax error" in skipped["why"]
    model = load_model_text(out.read_text())
    assert model.components["web"].requires == ["api"]
    text = run_cli("import", path, "-o", tmp_path / "t.yaml")
    assert f"skipped {path}:" in text.stdout and "YAML syntax error" in text.stdout


def test_missing_file_is_a_located_error_exit_2(tmp_path: Path, run_cli) -> None:
    result = run_cli("import", tmp_path / "nope.yaml", "-o", tmp_path / "m.yaml")
    assert result.exit_code == 2
    assert "nope.yaml" in result.stderr and "file not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_format_says_how_to_force_one(tmp_path: Path, run_cli) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    result = run_cli("import", path)
    assert result.exit_code == 2
    assert "cannot tell the format" in result.stderr and "k8s:FILE" in result.stderr


def test_forced_format_on_the_wrong_file_is_skipped_not_crashed(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("just: a mapping\n")
    result = import_sources([f"compose:{path}", f"backstage:{path}"])
    whys = [s.why for s in result.skipped]
    assert any("no `services:`" in w for w in whys)
    assert any("not a Backstage entity" in w for w in whys)


def test_a_folder_of_manifests_is_read_file_by_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(PARTIAL_K8S.split("---")[0])
    (tmp_path / "b.yaml").write_text("---".join(PARTIAL_K8S.split("---")[1:3]))
    result = import_sources([f"k8s:{tmp_path}"])
    assert set(result.components) == {"web", "api"}
    assert result.components["web"].requires == {"api": "env API_ADDR -> Service api"}


def test_empty_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(AftershockError, match="no YAML or JSON file"):
        import_sources([str(tmp_path)])


_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=12))
_json = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.sampled_from(["kind", "apiVersion", "metadata", "name", "spec", "services", "env",
                             "environment", "depends_on", "resourceSpans", "scopeSpans", "spans",
                             "data", "values", "root_module", "resources", "instances", "value",
                             "containers", "template", "selector", "dependsOn", "attributes",
                             "parentSpanId", "spanId", "traceId", "key", "stringValue",
                             "args", "volumes", "configMap", "envFrom", "data", "sensitive_values"]),
            children, max_size=5),
    ),
    max_leaves=25,
)


@pytest.mark.parametrize("fmt", ["kubernetes", "compose", "backstage", "otel", "terraform"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=_json)
def test_any_structure_imports_or_fails_cleanly(tmp_path: Path, fmt: str, data: object) -> None:
    path = tmp_path / ("in.json" if fmt in ("otel", "terraform") else "in.yaml")
    path.write_text(json.dumps(data) if path.suffix == ".json" else yaml.safe_dump(data))
    try:
        result = importer(fmt)(str(path))
    except AftershockError:
        return
    load_model_text(to_yaml(result))  # whatever was imported is a valid model


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200))
def test_any_text_imports_or_fails_cleanly(tmp_path: Path, text: str) -> None:
    for fmt in ("kubernetes", "compose", "backstage", "otel", "terraform"):
        path = tmp_path / ("in.json" if fmt in ("otel", "terraform") else "in.yaml")
        path.write_text(text)
        try:
            result = importer(fmt)(str(path))
        except AftershockError:
            continue
        load_model_text(to_yaml(result))


_entities = st.fixed_dictionaries({
    "apiVersion": st.just("backstage.io/v1alpha1"),
    "kind": st.sampled_from(["Component", "Resource", "API", "System", "Group", 7]),
    "metadata": st.one_of(_json, st.fixed_dictionaries({"name": st.text(max_size=8)})),
    "spec": st.one_of(_json, st.fixed_dictionaries({
        "dependsOn": _json, "consumesApis": _json, "providesApis": _json, "system": _json})),
})


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entities=st.lists(_entities, max_size=4),
       services=st.dictionaries(st.text(max_size=6), st.one_of(_json, st.fixed_dictionaries({
           "image": _json, "depends_on": _json, "links": _json, "environment": _json,
           "deploy": _json}))))
def test_shaped_backstage_and_compose_import_or_skip(tmp_path: Path, entities: list,
                                                      services: dict) -> None:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(yaml.safe_dump_all(entities) if entities else "a: 1\n")
    compose = tmp_path / "compose.yaml"
    compose.write_text(yaml.safe_dump({"services": services}))
    for fmt, path in (("backstage", catalog), ("compose", compose)):
        load_model_text(to_yaml(importer(fmt)(str(path))))
