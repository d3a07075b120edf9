"""Read-only access to botocore's service models, shared by search, schemas and classification.

Loading a model parses a large JSON file, so models are cached for the life of the process.
A dedicated botocore session is used: it never creates clients, so it needs no credentials.
Its data loader is the process's only one (`data_loader`): the AWS CLI parser's session
(catalog.cli) uses it too, and the client sessions (core.clients) through `ClientModels`, so a
model such as ec2's (tens of MB once parsed) is read and held once, not once per session.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

import botocore
import botocore.session
from botocore.exceptions import DataNotFoundError
from botocore.loaders import Loader
from botocore.model import OperationModel, ServiceModel

T = TypeVar("T")
_ONCE = threading.RLock()


def _once(function: Callable[[], T]) -> Callable[[], T]:
    """functools.cache, except that threads racing on the first call cannot run `function` twice."""
    cached = cache(function)

    def first_result() -> T:
        with _ONCE:
            return cached()

    return first_result


@_once
def _session() -> botocore.session.Session:
    session = botocore.session.Session()
    session.get_component("data_loader")  # botocore creates components lazily, without a lock
    return session


def data_loader() -> Loader:
    """The botocore loader every session in this process shares (its caches are keyed by file path)."""
    return _session().get_component("data_loader")


def share_data_loader(session: botocore.session.Session, *, makes_clients: bool = False) -> botocore.session.Session:
    """Make `session` read models through `data_loader()`; returns the session.

    A session that makes clients reads them through `ClientModels`, which keeps the edits botocore's
    clients make to a model away from everyone else's copy.
    """
    session.register_component("data_loader", _client_models() if makes_clients else data_loader())
    return session


class ClientModels:
    """The shared loader as client sessions see it: each service model's operation entries are their own.

    botocore edits a loaded model's operation entries when a client first calls an operation (it strips
    `/{Bucket}` from S3 request URIs and `{AccountId}.` from S3 Control host prefixes). The catalog and
    the CLI parser read the same models and must see them as published; the shapes, nearly all of a
    model, are still shared.
    """

    def __init__(self, loader: Loader) -> None:
        self.loader = loader
        self._models: dict[tuple[str, str | None], dict] = {}
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)

    def load_service_model(self, service_name: str, type_name: str, api_version: str | None = None) -> Any:
        model = self.loader.load_service_model(service_name, type_name=type_name, api_version=api_version)
        if type_name != "service-2":
            return model
        with self._lock:
            own = self._models.get((service_name, api_version))
            if own is None:
                own = self._models[(service_name, api_version)] = _with_own_operations(model)
            return own


def _with_own_operations(model: dict) -> dict:
    """A copy of the model whose operations, and the dicts directly inside each, are new objects."""
    operations = copy.copy(model["operations"])
    for name, operation in operations.items():
        operations[name] = own = copy.copy(operation)
        for key, value in own.items():
            if isinstance(value, dict):
                own[key] = copy.copy(value)
    own_model = copy.copy(model)
    own_model["operations"] = operations
    return own_model


@_once
def _client_models() -> ClientModels:
    return ClientModels(data_loader())


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
    try:
        return data_loader().load_service_model(service, "paginators-1")["pagination"]
    except DataNotFoundError:
        return {}


@cache
def operation_names(service: str) -> frozenset[str]:
    """The service's operation names; empty for a service botocore does not know."""
    try:
        return frozenset(service_model(service).operation_names)
    except DataNotFoundError:
        return frozenset()
