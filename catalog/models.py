"""Read-only access to botocore's service models, shared by search, schemas and classification.

Loading a model parses a large JSON file, so models are cached for the life of the process.
A dedicated botocore session is used: it never creates clients, so it needs no credentials.
"""

from __future__ import annotations

from functools import cache

import botocore
import botocore.session
from botocore.exceptions import DataNotFoundError
from botocore.model import OperationModel, ServiceModel


@cache
def _session() -> botocore.session.Session:
    return botocore.session.Session()


def botocore_version() -> str:
    return botocore.__version__


@cache
def service_names() -> tuple[str, ...]:
    """Every service botocore ships a model for, in botocore's own spelling (`secretsmanager`)."""
    return tuple(_session().get_available_services())


@cache
def service_model(service: str) -> ServiceModel:
    return _session().get_service_model(service)


def operation_model(service: str, operation: str) -> OperationModel:
    return service_model(service).operation_model(operation)


@cache
def paginator_config(service: str) -> dict:
    """The `pagination` section of the service's paginators model ({} when it has none)."""
    loader = _session().get_component("data_loader")
    try:
        return loader.load_service_model(service, "paginators-1")["pagination"]
    except DataNotFoundError:
        return {}


@cache
def operation_names(service: str) -> frozenset[str]:
    """The service's operation names; empty for a service botocore does not know."""
    try:
        return frozenset(service_model(service).operation_names)
    except DataNotFoundError:
        return frozenset()
