"""Turn the many ways people spell AWS services and operations into botocore's names.

Services are accepted in botocore spelling (`secretsmanager`), any case or punctuation
(`SecretsManager`, `Secrets Manager`), AWS CLI spelling (`s3api`, `configservice`) and the
service ids that differ from botocore's name (`EventBridge` -> `events`). Operations are
accepted in API spelling (`DescribeInstances`), CLI spelling (`describe-instances`) or
boto3 spelling (`describe_instances`), any case.

Both are matched on a canonical key: lowercase with everything but letters and digits
removed. That makes `list-objects-v2`, `ListObjectsV2` and `list_objects_v2` the same key,
and also covers the AWS CLI's few renamed operations, which only differ in hyphenation
(`get-otel-enrichment` / `get-o-tel-enrichment`, `create-oauth2-token`).
"""

from __future__ import annotations

import difflib
import re
from functools import cache

from catalog.models import service_model, service_names

# Names that do not reduce to a botocore service name: AWS CLI command names, then
# service ids and endpoint prefixes that differ from the botocore name.
_SERVICE_ALIASES = {
    "s3api": "s3",
    "deploy": "codedeploy",
    "configservice": "config",
    "runtimesagemaker": "sagemaker-runtime",
    "applicationdiscoveryservice": "discovery",
    "cloudwatchevents": "events",
    "cloudwatchlogs": "logs",
    "cognitoidentityprovider": "cognito-idp",
    "costandusagereportservice": "cur",
    "costexplorer": "ce",
    "databasemigrationservice": "dms",
    "directoryservice": "ds",
    "directoryservicedata": "ds-data",
    "elasticloadbalancing": "elb",
    "elasticloadbalancingv2": "elbv2",
    "elasticsearchservice": "es",
    "email": "ses",
    "eventbridge": "events",
    "iotdataplane": "iot-data",
    "iotjobsdataplane": "iot-jobs-data",
    "lexmodelbuildingservice": "lex-models",
    "lexmodelsv2": "lexv2-models",
    "lexruntimeservice": "lex-runtime",
    "lexruntimev2": "lexv2-runtime",
    "marketplaceentitlementservice": "marketplace-entitlement",
    "marketplacemetering": "meteringmarketplace",
    "migrationhub": "mgh",
    "monitoring": "cloudwatch",
    "pinpointsmsvoice": "sms-voice",
    "serverlessapplicationrepository": "serverlessrepo",
    "sfn": "stepfunctions",
    "simpledb": "sdb",
    "states": "stepfunctions",
}

_VENDOR_PREFIXES = ("amazon", "aws")


class CatalogError(ValueError):
    """A service or operation name that botocore does not know."""


class UnknownServiceError(CatalogError):
    pass


class UnknownOperationError(CatalogError):
    pass


def canonical_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


@cache
def _service_lookup() -> dict[str, str]:
    lookup = {canonical_key(name): name for name in service_names()}
    known = set(service_names())
    for alias, name in _SERVICE_ALIASES.items():
        if name in known:
            lookup.setdefault(alias, name)
    return lookup


@cache
def _operation_lookup(service: str) -> dict[str, str]:
    return {canonical_key(name): name for name in service_model(service).operation_names}


def resolve_service(service: str) -> str:
    """The botocore name of `service`, or UnknownServiceError suggesting close matches."""
    lookup = _service_lookup()
    key = canonical_key(service)
    if key in lookup:
        return lookup[key]
    for prefix in _VENDOR_PREFIXES:
        if key.startswith(prefix) and key[len(prefix) :] in lookup:
            return lookup[key[len(prefix) :]]
    close = difflib.get_close_matches(key, list(lookup), n=5, cutoff=0.75)
    close = close or difflib.get_close_matches(key, list(lookup), n=3, cutoff=0.6)  # short names: ec3 → ec2
    suggestions = list(dict.fromkeys(lookup[match] for match in close))
    raise UnknownServiceError(_unknown_message(f"Unknown AWS service {service!r}", suggestions))


def resolve_operation(service: str, operation: str) -> tuple[str, str]:
    """(botocore service name, API operation name) for any accepted spelling of both."""
    service_name = resolve_service(service)
    lookup = _operation_lookup(service_name)
    key = canonical_key(operation)
    if key in lookup:
        return service_name, lookup[key]
    close = difflib.get_close_matches(key, list(lookup), n=5, cutoff=0.7)
    raise UnknownOperationError(
        _unknown_message(
            f"Unknown operation {operation!r} for service {service_name!r}", [lookup[match] for match in close]
        )
    )


def _unknown_message(head: str, suggestions: list[str]) -> str:
    if not suggestions:
        return f"{head}."
    return f"{head}. Did you mean: {', '.join(suggestions)}?"
