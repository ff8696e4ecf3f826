"""Each importer on fixtures written from its documented format: Backstage, Kubernetes (groups,
zones, Ingress, ConfigMaps, ExternalName), docker-compose, OTLP and Jaeger traces, Terraform."""

from __future__ import annotations

from pathlib import Path

from aftershock.analysis.structure import blast_radius
from aftershock.importers import detect_format, import_sources
from aftershock.importers.addresses import hosts_in, kubernetes_service
from aftershock.importers.merge import to_yaml
from aftershock.model.compile import compile_model
from aftershock.model.load import Model, load_model_text

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "importers"


def imported(*sources: str | Path, **options: object) -> Model:
    return load_model_text(to_yaml(import_sources([str(s) for s in sources], **options)))


def test_formats_are_detected_from_content() -> None:
    assert detect_format(FIXTURES / "backstage-catalog.yaml") == "backstage"
    assert detect_format(FIXTURES / "otlp-traces.json") == "otel"
    assert detect_format(FIXTURES / "jaeger-traces.json") == "jaeger"
    assert detect_format(FIXTURES / "zipkin-traces.json") == "zipkin"
    assert detect_format(FIXTURES / "terraform-show.json") == "terraform"
    assert detect_format(FIXTURES / "terraform.tfstate") == "terraform"


def test_kubernetes_with_backstage_labels_is_still_kubernetes(tmp_path: Path) -> None:
    path = write(tmp_path, "d.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
                 "  name: web\n  labels: {backstage.io/kubernetes-id: web}\n")
    assert detect_format(path) == "kubernetes"
    assert detect_format(write(tmp_path, "d.json", '{"apiVersion": "v1", "kind": "List"}')) == \
        "kubernetes"


def test_backstage_entities_edges_apis_and_tags() -> None:
    model = imported(FIXTURES / "backstage-catalog.yaml")
    checkout = model.components["checkout"]
    assert set(checkout.requires) >= {"orders-db", "fraud-scoring", "payments-api"}
    assert checkout.tags["system"] == "shop" and checkout.tags["tier"] == "1"
    assert checkout.tags["lifecycle"] == "production" and checkout.tags["owner"] == "team-payments"
    # Provider annotation pulls in the catalog chain at load.
    assert "aws:dynamodb@us-east-1" in checkout.requires
    assert "aws:dynamodb-dns@us-east-1" in model.components
    # An API provided by one component requires it; by two, it is a redundancy group.
    assert model.components["checkout-api"].requires == ["checkout"]
    assert model.components["catalog-api"].any_of == ["catalog-blue", "catalog-green"]
    storefront = model.components["storefront"]
    assert set(storefront.requires) == {"checkout-api", "catalog-api", "sessions-cache"}
    assert storefront.kind == "endpoint" and storefront.tags["tier"] == "1"
    assert model.components["orders-db"].kind == "datastore"
    assert model.components["sessions-cache"].kind == "cache"
    assert "shop" not in model.components and "team-shop" not in model.components
    graph = compile_model(model)
    down = blast_radius(graph, ["catalog-blue"]).to_dict()["down"]
    assert "catalog-blue" in down and "storefront" not in down  # the other provider serves
    assert "storefront" in blast_radius(graph, ["catalog-blue", "catalog-green"]).to_dict()["down"]


def test_backstage_unresolvable_references_are_skipped_with_their_line() -> None:
    result = import_sources([str(FIXTURES / "backstage-catalog.yaml")])
    skipped = {s.what: s for s in result.skipped}
    assert skipped["dependsOn 'resource:no-such-thing' of 'broken-deps'"].line == 131
    assert skipped["system 'shop'"].line == 3


def test_otlp_edges_call_counts_error_rates_and_external_hosts() -> None:
    result = import_sources([str(FIXTURES / "otlp-traces.json")])
    model = load_model_text(to_yaml(result))
    frontend = model.components["frontend"]
    assert set(frontend.requires) == {"cart", "api.stripe.com"}
    assert frontend.tags["calls.cart"] == 2 and frontend.tags["error_rate.cart"] == 0.5
    assert model.components["api.stripe.com"].kind == "external"
    assert model.components["cart"].requires == ["valkey-cart"]
    assert model.components["valkey-cart"].kind == "cache"
    assert any("no service.name" in s.why and s.line == 24 for s in result.skipped)
    assert any("partial trace" in a for a in result.assumptions)


def test_jaeger_edges_and_databases_from_peer_service() -> None:
    model = imported(FIXTURES / "jaeger-traces.json")
    assert model.components["shipping"].requires == ["quote"]
    assert model.components["shipping"].tags["error_rate.quote"] == 1.0
    assert model.components["shipping"].tags["rps.quote"] == 0.5  # 1 call over the 2 s window
    assert model.components["quote"].requires == ["quotes-db"]
    assert model.components["quotes-db"].kind == "datastore"


def test_zipkin_edges_errors_and_remote_endpoints() -> None:
    result = import_sources([str(FIXTURES / "zipkin-traces.json")])
    model = load_model_text(to_yaml(result))
    assert model.components["web"].requires == ["users"]
    assert model.components["web"].tags["error_rate.users"] == 1.0
    assert model.components["users"].requires == ["mysql"]
    assert model.components["mysql"].kind == "datastore"
    assert [s.line for s in result.skipped] == [10]


def test_otlp_json_lines_with_a_broken_line_imports_the_rest(tmp_path: Path) -> None:
    good = (FIXTURES / "otlp-traces.json").read_text().replace("\n", " ")
    path = tmp_path / "traces.jsonl"
    path.write_text(good + "\n{not json\n" + good + "\n")
    result = import_sources([f"otel:{path}"])
    assert result.components["frontend"].tags["calls.cart"] == 4
    assert any(s.line == 2 and "JSON syntax error" in s.why for s in result.skipped)


def test_terraform_show_json_resources_placement_and_catalog_edges() -> None:
    model = imported(FIXTURES / "terraform-show.json")
    lam = model.components["aws_lambda_function.api"]
    assert {"aws:lambda@us-east-1", "aws_db_instance.main"} <= set(lam.requires)
    assert lam.placement is not None and lam.placement.region == "us-east-1"
    db = model.components["aws_db_instance.main"]
    assert db.placement is not None and db.placement.zone == "us-east-1b"
    assert db.placement.region == "us-east-1"
    lb = model.components["aws_lb.edge"]
    assert "aws:nlb@us-east-1" in lb.requires  # load_balancer_type network -> NLB
    record = model.components["aws_route53_record.api"]
    assert record.kind == "dns_record" and record.record == "api.example.com" and record.ttl == 60
    assert "aws_lb.edge" in record.requires and "aws:route53" in record.requires
    queue = model.components["module.queue.aws_sqs_queue.jobs"]
    assert queue.placement is not None and queue.placement.region == "eu-west-1"
    assert "aws_iam_role.api" not in model.components
    assert "data.aws_caller_identity.me" not in model.components
    # The catalog's chain is there: an NLB outage reaches the API's DNS record.
    graph = compile_model(model)
    down = blast_radius(graph, ["aws:ec2-network-manager@us-east-1"]).to_dict()["down"]
    assert "aws_route53_record.api" in down and "aws_dynamodb_table.orders" not in down


def test_terraform_raw_state_instances_and_dependencies() -> None:
    model = imported(FIXTURES / "terraform.tfstate")
    run = model.components["google_cloud_run_v2_service.api"]
    assert set(run.requires) == {"google_sql_database_instance.main", "gcp:cloud-run@europe-west1"}
    assert model.components["google_compute_instance.worker-1"].placement.zone == "europe-west1-c"
    assert "gcp:service-control@europe-west1" in model.components


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


K8S = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: api-config, namespace: shop}
data: {ORDERS_URL: "http://orders.shop.svc.cluster.local:8080/v1"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  replicas: 3
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      topologySpreadConstraints:
        - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule}
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
              - matchExpressions:
                  - {key: topology.kubernetes.io/zone, operator: In, values: [eu-west-1a, eu-west-1b]}
      containers:
        - name: api
          image: example/api:1.0
          envFrom: [{configMapRef: {name: api-config}}]
          env:
            - {name: PAYMENTS_HOST, value: payments}
            - {name: OTEL_EXPORTER_OTLP_ENDPOINT, value: "http://otel-collector.observability:4317"}
            - name: DB_PASSWORD
              valueFrom: {secretKeyRef: {name: db, key: password}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: proxy-conf, namespace: shop}
data:
  nginx.conf: |
    upstream api { server api.shop.svc.cluster.local:80; }
    # docs at https://nginx.org:443/ and a typo'd host nosuchsvc:8080 are not edges
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: proxy, namespace: shop}
spec:
  template:
    metadata: {labels: {app: proxy}}
    spec:
      volumes: [{name: conf, configMap: {name: proxy-conf}}]
      containers:
        - {name: proxy, image: nginx, args: ["--metrics-addr=otel-collector.observability:9090",
                                            "--orders-url=http://orders:8080"]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: orders, namespace: shop}
spec:
  replicas: 1
  selector: {matchLabels: {app: orders}}
  template:
    metadata: {labels: {app: orders}}
    spec:
      containers: [{name: orders, image: postgres:16}]
---
apiVersion: v1
kind: Service
metadata: {name: orders, namespace: shop}
spec: {selector: {app: orders}, ports: [{port: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec: {selector: {app: api}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: payments, namespace: shop}
spec: {type: ExternalName, externalName: api.payments.example.com}
---
apiVersion: v1
kind: Secret
metadata: {name: db, namespace: shop}
stringData: {password: FAKE-K8S-SECRET-42}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: orders, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: StatefulSet, name: orders}
  minReplicas: 2
  maxReplicas: 5
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: shop}
spec:
  rules:
    - http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: api, port: {number: 80}}}}
"""


def test_kubernetes_groups_zones_configmaps_external_names_and_ingress(tmp_path: Path) -> None:
    result = import_sources([str(write(tmp_path, "shop.yaml", K8S))])
    text = to_yaml(result)
    model = load_model_text(text)
    api = model.components["api.shop"]
    assert set(api.requires) == {"orders.shop", "api.payments.example.com"}
    assert api.any_of == ["api.shop/replica-1", "api.shop/replica-2", "api.shop/replica-3"]
    assert model.components["api.shop/replica-3"].requires == ["zone:eu-west-1a"]
    assert model.components["api.shop/replica-2"].requires == ["zone:eu-west-1b"]
    orders = model.components["orders.shop"]
    assert orders.kind == "datastore" and orders.tags["autoscaled"] == "2..5"
    assert orders.any_of == ["orders.shop/replica-1", "orders.shop/replica-2"]  # HPA minimum
    assert model.components["api.payments.example.com"].kind == "external"
    assert model.components["ingress-web.shop"].requires == ["api.shop"]
    collector = model.components["otel-collector.observability"]  # named as if imported
    assert collector.tags["role"] == "telemetry" and collector.tags["placeholder"] is True
    assert "otel-collector.observability" in api.uses
    proxy = model.components["proxy.shop"]  # from a mounted config file and container arguments
    assert set(proxy.requires) == {"api.shop", "orders.shop"}
    assert proxy.uses == ["otel-collector.observability"]  # telemetry: soft
    assert "nosuchsvc" not in model.components and "nginx.org" not in model.components
    assert "FAKE-K8S-SECRET-42" not in text
    assert any(s.why == "Secrets are never read" for s in result.skipped)
    # One zone down leaves the api up (replicas in the other zone); both zones down take it.
    graph = compile_model(model)
    one = blast_radius(graph, ["zone:eu-west-1a"]).to_dict()["down"]
    assert "api.shop/replica-1" in one and "api.shop" not in one and "ingress-web.shop" not in one
    both = blast_radius(graph, ["zone:eu-west-1a", "zone:eu-west-1b"]).to_dict()["down"]
    assert "api.shop" in both and "ingress-web.shop" in both


COMPOSE = """\
services:
  web:
    image: nginx
    links: ["api:backend"]
    deploy: {replicas: 2}
  api:
    image: example/api
    environment:
      DATABASE_URL: "postgres://app:${DB_PASSWORD:-FAKE-DEFAULT-PW}@db:5432/app"
      CACHE: "cache:6379"
      SEARCH_URL: "https://search.example.com/v1"
      METRICS_HOST: ${METRICS_HOST-metrics}
    depends_on:
      db: {condition: service_healthy}
      migrate: {condition: service_completed_successfully}
      search-sidecar: {condition: service_started, required: false}
  db: {image: "postgres:${PG_VERSION}"}
  cache: {image: "redis:7"}
  migrate: {image: example/migrate}
  search-sidecar: {image: example/sidecar}
  metrics: {image: prom/prometheus}
  sidecar: {image: envoy, network_mode: "service:api", volumes_from: ["cache:ro"]}
"""


def test_compose_links_env_urls_conditions_replicas_and_interpolation(tmp_path: Path) -> None:
    compose = write(tmp_path, "compose.yaml", COMPOSE)
    write(tmp_path, ".env", "PG_VERSION=16  # comment\nDB_PASSWORD='FAKE-ENV-PW-1'\n")
    result = import_sources([str(compose)])
    text = to_yaml(result)
    model = load_model_text(text)
    api = model.components["api"]
    assert set(api.requires) == {"db", "cache", "search.example.com"}
    assert set(api.uses) == {"search-sidecar", "metrics"}  # required: false; prometheus: telemetry
    assert "migrate" not in api.requires + api.uses
    assert any("service_completed_successfully" in a for a in result.assumptions)
    assert model.components["web"].requires == ["api"]
    assert model.components["web"].any_of == ["web/replica-1", "web/replica-2"]
    assert model.components["db"].kind == "datastore" and model.components["cache"].kind == "cache"
    assert set(model.components["sidecar"].requires) == {"api", "cache"}
    assert "FAKE-ENV-PW-1" not in text and "FAKE-DEFAULT-PW" not in text


def test_hosts_in_values() -> None:
    assert hosts_in("CART_ADDR", "cart:7070") == ["cart"]
    assert hosts_in("X", "redis://u:pw@cache.prod.svc.cluster.local:6379/0") == [
        "cache.prod.svc.cluster.local"]
    assert hosts_in("KAFKA_BROKERS", "k1:9092,k2:9092") == ["k1", "k2"]
    assert hosts_in("PAYMENTS_HOST", "payments") == ["payments"]
    assert hosts_in("GREETING", "hello") == []  # not an address-named variable
    assert hosts_in("ASPNETCORE_URLS", "http://*:8080") == []
    assert kubernetes_service("redis-0.redis.data.svc.cluster.local", "web") == ("redis", "data")
    assert kubernetes_service("cart", "shop") == ("cart", "shop")


def test_backstage_references_resolve_across_files(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write(tmp_path / "a", "catalog-info.yaml",
          "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: web}\n"
          "spec: {type: service, owner: x, lifecycle: production, dependsOn: [component:api]}\n")
    write(tmp_path / "b", "catalog-info.yaml",
          "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: api}\n"
          "spec: {type: service, owner: x, lifecycle: production}\n")
    result = import_sources([str(tmp_path)])
    assert not result.skipped
    assert list(result.components["web"].requires) == ["api"]
    assert result.components["api"].sources == ["backstage:b/catalog-info.yaml"]


def test_backstage_location_entities_bring_their_targets(tmp_path: Path) -> None:
    (tmp_path / "teams").mkdir()
    write(tmp_path / "teams", "api.yaml",
          "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: api}\n"
          "spec: {type: service, owner: x, lifecycle: production, dependsOn: [resource:db]}\n")
    write(tmp_path / "teams", "db.yaml",
          "apiVersion: backstage.io/v1alpha1\nkind: Resource\nmetadata: {name: db}\n"
          "spec: {type: database, owner: x}\n")
    root = write(tmp_path, "catalog-info.yaml",
                 "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata: {name: all}\n"
                 "spec:\n  targets: [./teams/*.yaml, ./missing.yaml,"
                 " https://example.com/catalog-info.yaml]\n")
    result = import_sources([f"backstage:{root}"])
    assert list(result.components["api"].requires) == ["db"]
    whys = {s.what: s.why for s in result.skipped}
    assert whys["Location target './missing.yaml'"] == "no such file"
    assert "not fetched" in whys["Location target 'https://example.com/catalog-info.yaml'"]


def _tf(address: str, depends: list[str] = (), **values: object) -> dict:
    rtype = address.split(".")[0]
    return {"address": address, "mode": "managed", "type": rtype, "name": address.split(".")[1],
            "provider_name": "registry.terraform.io/hashicorp/aws", "values": values,
            "sensitive_values": {}, "depends_on": list(depends)}


def test_terraform_load_balancers_reach_their_targets_through_listeners(tmp_path: Path) -> None:
    import json

    resources = [
        _tf("aws_instance.a", availability_zone="us-east-1a"),
        _tf("aws_instance.b", availability_zone="us-east-1b"),
        _tf("aws_lb.web", region="us-east-1", load_balancer_type="application"),
        _tf("aws_lb_target_group.web"),
        _tf("aws_lb_listener.web", ["aws_lb.web", "aws_lb_target_group.web"]),
        _tf("aws_lb_target_group_attachment.a", ["aws_lb_target_group.web", "aws_instance.a"]),
        _tf("aws_lb_target_group_attachment.b", ["aws_lb_target_group.web", "aws_instance.b"]),
        _tf("aws_autoscaling_group.workers", region="us-east-1"),
        _tf("aws_lb.api", region="us-east-1", load_balancer_type="network"),
        _tf("aws_lb_target_group.api"),
        _tf("aws_lb_listener.api", ["aws_lb.api", "aws_lb_target_group.api"]),
        _tf("aws_autoscaling_attachment.api",
            ["aws_autoscaling_group.workers", "aws_lb_target_group.api"]),
    ]
    state = {"format_version": "1.0", "terraform_version": "1.9.5",
             "values": {"root_module": {"resources": resources}}}
    model = imported(write(tmp_path, "state.json", json.dumps(state)))
    web = model.components["aws_lb.web"]
    assert web.any_of == ["aws_instance.a", "aws_instance.b"]
    assert "aws:alb@us-east-1" in web.requires
    assert "aws_autoscaling_group.workers" in model.components["aws_lb.api"].requires
    graph = compile_model(model)
    assert "aws_lb.web" not in blast_radius(graph, ["aws_instance.a"]).to_dict()["down"]
    both = blast_radius(graph, ["aws_instance.a", "aws_instance.b"]).to_dict()["down"]
    assert "aws_lb.web" in both
