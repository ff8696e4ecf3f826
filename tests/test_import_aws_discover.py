"""`aftershock discover` against moto's server mode (a real HTTP endpoint speaking the AWS APIs):
tables, functions, load balancers and Route 53 records become components tied to the catalog;
Lambda environment values are compared, never copied; refused APIs are skipped, not fatal."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("boto3", reason="boto3 is not installed (extra [aws])")
server_mod = pytest.importorskip("moto.server", reason="moto[server] is not installed")

from aftershock.importers.aws_discover import discover_aws  # noqa: E402
from aftershock.importers.merge import to_yaml  # noqa: E402
from aftershock.model.load import load_model_text  # noqa: E402

SECRET = "FAKE-LAMBDA-SECRET-31337"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="module")
def account(endpoint: str) -> str:
    """An account with two tables, a function, an NLB and two records in us-east-1."""
    import boto3

    mp = pytest.MonkeyPatch()
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        mp.setenv(key, value)

    def client(name: str, region: str = "us-east-1"):
        return boto3.client(name, region_name=region, endpoint_url=endpoint)

    ddb = client("dynamodb")
    for table in ("orders", "sessions"):
        ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    client("dynamodb", "eu-west-1").create_table(
        TableName="elsewhere", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    role = client("iam").create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("handler.py", "def handler(event, context):\n    return 1\n")
    client("lambda").create_function(
        FunctionName="checkout", Runtime="python3.11", Role=role, Handler="handler.handler",
        Code={"ZipFile": code.getvalue()},
        Environment={"Variables": {"ORDERS_TABLE": "orders", "API_TOKEN": SECRET}})
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24",
                                 AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"]
               for i, z in enumerate("ab")]
    lb = client("elbv2").create_load_balancer(Name="edge", Subnets=subnets, Type="network",
                                              Scheme="internet-facing")["LoadBalancers"][0]
    r53 = client("route53")
    zone = r53.create_hosted_zone(Name="example.com", CallerReference="1")["HostedZone"]["Id"]
    r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [
        {"Action": "CREATE", "ResourceRecordSet": {
            "Name": "api.example.com", "Type": "A",
            "AliasTarget": {"HostedZoneId": lb["CanonicalHostedZoneId"],
                            "DNSName": "dualstack." + lb["DNSName"], "EvaluateTargetHealth": False}}},
        {"Action": "CREATE", "ResourceRecordSet": {
            "Name": "www.example.com", "Type": "CNAME", "TTL": 300,
            "ResourceRecords": [{"Value": lb["DNSName"]}]}},
    ]})
    yield endpoint
    mp.undo()


def test_discovery_builds_a_model_tied_to_the_catalog(account: str) -> None:
    result = discover_aws(["us-east-1"], endpoint_url=account)
    model = load_model_text(to_yaml(result))
    names = set(model.components)
    assert {"dynamodb/orders@us-east-1", "dynamodb/sessions@us-east-1",
            "lambda/checkout@us-east-1", "nlb/edge@us-east-1",
            "dns/api.example.com", "dns/www.example.com"} <= names
    assert "dynamodb/elsewhere@eu-west-1" not in names  # only the regions asked for
    fn = model.components["lambda/checkout@us-east-1"]
    assert set(fn.requires) == {"aws:lambda@us-east-1", "dynamodb/orders@us-east-1"}
    assert model.components["nlb/edge@us-east-1"].requires == ["aws:nlb@us-east-1"]
    api = model.components["dns/api.example.com"]
    assert api.kind == "dns_record" and api.record == "api.example.com"
    assert set(api.requires) == {"nlb/edge@us-east-1", "aws:route53"}
    www = model.components["dns/www.example.com"]
    assert www.ttl == 300 and "nlb/edge@us-east-1" in www.requires
    assert "aws:dynamodb-dns@us-east-1" in names  # the catalog's chain, expanded at load


@pytest.mark.slow
def test_every_region_and_no_secret_in_any_output(account: str, tmp_path: Path, run_cli) -> None:
    out = tmp_path / "aws.yaml"
    result = run_cli("discover", "--all-regions", "--endpoint-url", account, "-o", out, "-f", "json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    text = out.read_text()
    assert "dynamodb/elsewhere@eu-west-1" in text and report["components"] >= 7
    assert SECRET not in text + result.stdout + result.stderr


def test_refused_api_is_skipped_and_the_rest_discovered(account: str, monkeypatch) -> None:
    import boto3
    from botocore.exceptions import ClientError

    real = boto3.Session.client

    def client(self, name, *args, **kwargs):
        c = real(self, name, *args, **kwargs)
        if name == "lambda":
            def denied(*_a, **_k):
                raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}},
                                  "ListFunctions")
            c.get_paginator = denied
        return c

    monkeypatch.setattr(boto3.Session, "client", client)
    result = discover_aws(["us-east-1"], endpoint_url=account)
    assert "dynamodb/orders@us-east-1" in result.components
    assert not any(n.startswith("lambda/") for n in result.components)
    assert any(s.what == "Lambda in us-east-1" and "AccessDenied" in s.why for s in result.skipped)


def test_unreachable_endpoint_is_a_clean_error(run_cli, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    result = run_cli("discover", "--region", "us-east-1", "--endpoint-url", "http://127.0.0.1:9")
    assert result.exit_code == 2 and "AWS discovery failed" in result.stderr
    assert "Traceback" not in result.stderr
