"""Read-only discovery of an AWS account through boto3: DynamoDB tables, Lambda functions, load
balancers (ELBv2) and Route 53 records, each tied to the provider catalog service it runs on.

Only List/Describe/Get calls are made. Names, regions and DNS names are copied; no value of a
Lambda environment variable is: a variable only counts as an edge when its value *equals* the
name or ARN of a discovered table (compared, never stored). A service the credentials may not
read (AccessDenied) in a region is skipped with the reason, and the rest is discovered.

Component names: `dynamodb/NAME@REGION`, `lambda/NAME@REGION`, `nlb/NAME@REGION`,
`alb/NAME@REGION`, `dns/RECORD`.
"""

from __future__ import annotations

from typing import Any

from aftershock.errors import AftershockError
from aftershock.importers.result import ImportResult, component_name

SOURCE = "aws-discover"


def discover_aws(
    regions: list[str] | None = None,
    *,
    all_regions: bool = False,
    endpoint_url: str | None = None,
    session: Any = None,
) -> ImportResult:
    """Discover what an AWS account runs in `regions` (default: the session's region)."""
    try:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
    except ImportError:
        raise AftershockError("`discover` needs boto3",
                              hint="pip install 'aftershock[aws]' (or boto3)") from None
    session = session or boto3.Session()
    account = endpoint_url or "aws"
    result = ImportResult(sources=[f"{SOURCE}:{account}"])

    def client(service: str, region: str) -> Any:
        return session.client(service, region_name=region, endpoint_url=endpoint_url)

    home = (regions or [None])[0] or session.region_name or "us-east-1"
    try:
        if all_regions:
            described = client("ec2", home).describe_regions()["Regions"]
            regions = sorted(r["RegionName"] for r in described)
        regions = regions or [home]
        load_balancers: dict[str, str] = {}  # DNS name -> component
        for region in regions:
            tables = _step(result, f"DynamoDB in {region}", ClientError,
                           lambda r=region: _tables(result, client("dynamodb", r), r))
            _step(result, f"Lambda in {region}", ClientError,
                  lambda r=region, t=tables: _functions(result, client("lambda", r), r, t or {}))
            found = _step(result, f"ELBv2 in {region}", ClientError,
                          lambda r=region: _load_balancers(result, client("elbv2", r), r))
            load_balancers.update(found or {})
        _step(result, "Route 53", ClientError,
              lambda: _records(result, client("route53", home), load_balancers))
    except NoCredentialsError:
        raise AftershockError("no AWS credentials found",
                              hint="set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run "
                                   "`aws configure`") from None
    except (BotoCoreError, ClientError) as exc:
        raise AftershockError(f"AWS discovery failed: {exc}",
                              hint="check the region, the endpoint and the network") from None
    return result


def _step(result: ImportResult, what: str, denied: type[Exception], fn: Any) -> Any:
    """Run one discovery call; an error the API returns (AccessDenied, ...) skips just it."""
    try:
        return fn()
    except denied as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
        result.skip(SOURCE, what, f"the API refused: {code}")
        return None


def _catalog_edge(result: ImportResult, draft: Any, ref: str) -> None:
    from aftershock.catalog.providers import CatalogError, resolve

    try:
        draft.depend(resolve(ref).name, "provider catalog")
    except CatalogError as exc:
        result.skip(SOURCE, f"catalog edge of {draft.name}", exc.message)


def _tables(result: ImportResult, ddb: Any, region: str) -> dict[str, str]:
    """Tables by name and by ARN -> component name."""
    found: dict[str, str] = {}
    for page in ddb.get_paginator("list_tables").paginate():
        for table in page.get("TableNames", []):
            name = component_name(f"dynamodb/{table}@{region}")
            draft = result.draft(name, SOURCE, kind="datastore")
            draft.placement.update(provider="aws", region=region)
            draft.tags["aws_type"] = "dynamodb_table"
            _catalog_edge(result, draft, f"aws:dynamodb@{region}")
            found[table] = name
    return found


def _functions(result: ImportResult, lam: Any, region: str, tables: dict[str, str]) -> None:
    for page in lam.get_paginator("list_functions").paginate():
        for fn in page.get("Functions", []):
            name = component_name(f"lambda/{fn['FunctionName']}@{region}")
            draft = result.draft(name, SOURCE, kind="function")
            draft.placement.update(provider="aws", region=region)
            draft.tags["aws_type"] = "lambda_function"
            if fn.get("Runtime"):
                draft.tags["runtime"] = fn["Runtime"]
            _catalog_edge(result, draft, f"aws:lambda@{region}")
            variables = (fn.get("Environment") or {}).get("Variables") or {}
            for variable, value in variables.items():
                table = _table_named(str(value), tables)
                if table is not None:  # compared, never copied
                    draft.depend(table, f"env {variable} names the table")


def _table_named(value: str, tables: dict[str, str]) -> str | None:
    if value in tables:
        return tables[value]
    if value.startswith("arn:aws:dynamodb:") and ":table/" in value:
        return tables.get(value.split(":table/", 1)[1].split("/", 1)[0])
    return None


def _load_balancers(result: ImportResult, elb: Any, region: str) -> dict[str, str]:
    """Load balancers; returns DNS name -> component name (for Route 53 aliases)."""
    found: dict[str, str] = {}
    for page in elb.get_paginator("describe_load_balancers").paginate():
        for lb in page.get("LoadBalancers", []):
            kind = "nlb" if lb.get("Type") == "network" else "alb"
            name = component_name(f"{kind}/{lb['LoadBalancerName']}@{region}")
            draft = result.draft(name, SOURCE, kind="load_balancer")
            draft.placement.update(provider="aws", region=region)
            draft.tags["aws_type"] = f"elbv2_{lb.get('Type', 'application')}"
            zones = sorted(z.get("ZoneName", "") for z in lb.get("AvailabilityZones", []))
            if zones:
                draft.tags["zones"] = ", ".join(z for z in zones if z)
            _catalog_edge(result, draft, f"aws:{kind}@{region}")
            if lb.get("DNSName"):
                found[_dns(lb["DNSName"])] = name
    return found


def _dns(name: str) -> str:
    name = name.lower().rstrip(".")
    return name.removeprefix("dualstack.")


def _records(result: ImportResult, r53: Any, load_balancers: dict[str, str]) -> None:
    for page in r53.get_paginator("list_hosted_zones").paginate():
        for zone in page.get("HostedZones", []):
            pages = r53.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone["Id"])
            for rpage in pages:
                for rs in rpage.get("ResourceRecordSets", []):
                    if rs.get("Type") not in ("A", "AAAA", "CNAME"):
                        continue
                    _record(result, rs, load_balancers, private=zone.get("Config", {}).get("PrivateZone"))


def _record(result: ImportResult, rs: dict[str, Any], load_balancers: dict[str, str],
            private: bool | None) -> None:
    record = _dns(rs["Name"])
    draft = result.draft(component_name(f"dns/{record}"), SOURCE, kind="dns_record")
    draft.record = record
    if rs.get("TTL") is not None:
        draft.ttl_s = float(rs["TTL"])
    draft.placement["provider"] = "aws"
    draft.tags["aws_type"] = "route53_record"
    if private:
        draft.tags["private_zone"] = True
    _catalog_edge(result, draft, "aws:route53")
    targets = [(rs.get("AliasTarget") or {}).get("DNSName", "")]
    targets += [r.get("Value", "") for r in rs.get("ResourceRecords", [])] if rs.get("Type") == "CNAME" else []
    for target in filter(None, targets):
        lb = load_balancers.get(_dns(target))
        if lb is not None:
            draft.depend(lb, "Route 53 alias" if rs.get("AliasTarget") else "CNAME")
