"""botocore client classes, service models, and the event hooks each client copies, built once per service for the
sessions that ask for it.

botocore builds a new client class for every client: one method, one docstring object and one operation model per
operation, then `type(...)`. For EC2 (~830 operations) that is ~20 ms of CPU and ~1.4 MB per client. A fleet call
makes one client per (account, region), 1,020 of them for 60 accounts × 17 regions, so the class is built once
and shared instead: its methods only call `self._make_api_call(name, kwargs)`, and what `creating-client-class`
handlers add depends on the service alone. Each client keeps its own instance state (credentials, region,
endpoint, event hooks).

Each client also parsed its own `ServiceModel`: the shapes, operation models and caches it builds as calls are made
(~20 KB for one EC2 operation, more for each other one). Clients share one per service instead: botocore treats it
as read-only once built (its caches only fill), as it already does for the class and the threads sharing a client.

Every client also gets a copy of the session's event hooks (`copy.copy(emitter)` in botocore's
`ClientArgsCreator`), then registers its own handlers (its signer, its retry quota) on that copy only. The session's
hooks are a trie of ~190 nodes, 127 handlers for every service (S3's, Glacier's, RDS's, docs'), ~86 KB a copy;
a client only ever emits events named after its own service (`<event>.<service id>.<operation>`, `docs.<section>.
<service id>...`). So a client copies a template instead: the session's hooks without the branches of other
services (~15 KB for EC2). The template is never used to emit or register; each client still has its own copy, so
no handler of one client (a signer holding its credentials) can reach another.

`share_client_classes(session)` opts a session in; sessions not opted in (boto3's, the catalog's) build classes
and copy hooks as botocore does. `forget_client_classes` and `forget_service_hooks` drop what was built after a
handler is registered on the session.
"""

import copy
import threading
import weakref
from typing import Any

import botocore.client
import botocore.hooks
import botocore.session

_build = botocore.client.ClientCreator._create_client_class
_client_args = botocore.client.ClientCreator._get_client_args
_load_model = botocore.client.ClientCreator._load_service_model
_lock = threading.Lock()
_classes: "weakref.WeakKeyDictionary[Any, dict[tuple[str, str | None], type]]" = weakref.WeakKeyDictionary()
"""Per opted-in session's event emitter (what `ClientCreator` is given): the classes built for it."""
_models: "weakref.WeakKeyDictionary[Any, dict[tuple[str, str | None], Any]]" = weakref.WeakKeyDictionary()
"""Per opted-in session's event emitter: the service models its clients share."""
_hooks: "weakref.WeakKeyDictionary[Any, dict[str, botocore.hooks.EventAliaser]]" = weakref.WeakKeyDictionary()
"""Per opted-in session's event emitter: the hooks template of each service its clients copy."""
SERVICE_POSITION = {"docs": 2}
"""Where the service id sits in an event name, counted from 0, when not at 1 (`before-call.ec2.DescribeVpcs`)."""


def _shared_class(creator: botocore.client.ClientCreator, service_name: str, service_model: Any) -> type:
    with _lock:
        built = _classes.get(creator._event_emitter)
    if built is None:
        return _build(creator, service_name, service_model)
    key = (service_name, service_model.api_version)
    with _lock:
        cls = built.get(key)
    if cls is None:
        cls = _build(creator, service_name, service_model)
        with _lock:
            cls = built.setdefault(key, cls)
    return cls


def _shared_model(creator: botocore.client.ClientCreator, service_name: str, api_version: str | None = None) -> Any:
    with _lock:
        models = _models.get(creator._event_emitter)
        model = models.get((service_name, api_version)) if models is not None else None
    if models is None:
        return _load_model(creator, service_name, api_version)
    if model is None:
        model = _load_model(creator, service_name, api_version)
        with _lock:
            model = models.setdefault((service_name, api_version), model)
    return model


def service_hooks(emitter: botocore.hooks.EventAliaser, service_model: Any) -> botocore.hooks.EventAliaser:
    """A copy of `emitter` without the handlers for other services than `service_model`'s: every branch of the
    hooks trie at the service position whose name is neither `*` nor the service's id or name (as aliased)."""
    template = copy.copy(emitter)
    names = {"*"}
    for name in (service_model.service_id.hyphenize(), service_model.service_name):
        names.add(template._alias_event_name(f"event.{name}").split(".", 1)[1])
    hooks = template._emitter
    root = hooks._handlers._root
    for event, node in root["children"].items():
        level = [node]
        for _ in range(SERVICE_POSITION.get(event, 1) - 1):
            level = [child for parent in level for child in parent["children"].values()]
        for parent in level:
            parent["children"] = {name: child for name, child in parent["children"].items() if name in names}
    kept = {id(handler) for handler in _handlers(root)}
    hooks._unique_id_handlers = {
        unique_id: entry for unique_id, entry in hooks._unique_id_handlers.items() if id(entry["handler"]) in kept
    }
    hooks._lookup_cache = {}
    return template


def _handlers(node: dict[str, Any]) -> list[Any]:
    values = node.get("values")
    found = [*values.first, *values.middle, *values.last] if values else []
    for child in node["children"].values():
        found.extend(_handlers(child))
    return found


def _hooks_template(creator: botocore.client.ClientCreator, service_model: Any) -> Any:
    with _lock:
        templates = _hooks.get(creator._event_emitter)
        if templates is None or not isinstance(creator._event_emitter, botocore.hooks.EventAliaser):
            return None
        template = templates.get(service_model.service_name)
    if template is None:
        template = service_hooks(creator._event_emitter, service_model)
        with _lock:
            template = templates.setdefault(service_model.service_name, template)
    return template


def _args_with_shared_hooks(
    creator: botocore.client.ClientCreator, service_model: Any, *args: Any, **kwargs: Any
) -> Any:
    """botocore's `_get_client_args`, its `ClientArgsCreator` copying the service's hooks template instead of the
    session's hooks. `creator` is made for one `create_client` call (botocore.session.Session.create_client), so
    pointing it at the template for the time of this call affects no other client."""
    template = _hooks_template(creator, service_model)
    if template is None:
        return _client_args(creator, service_model, *args, **kwargs)
    session_hooks = creator._event_emitter
    creator._event_emitter = template
    try:
        return _client_args(creator, service_model, *args, **kwargs)
    finally:
        creator._event_emitter = session_hooks


def share_client_classes(session: botocore.session.Session) -> None:
    """Clients `session` creates from now on share one class and one model per service and copy a per-service
    hooks template."""
    emitter = session.get_component("event_emitter")
    with _lock:
        _classes.setdefault(emitter, {})
        _models.setdefault(emitter, {})
        _hooks.setdefault(emitter, {})
    botocore.client.ClientCreator._create_client_class = _shared_class  # type: ignore[method-assign]
    botocore.client.ClientCreator._get_client_args = _args_with_shared_hooks  # type: ignore[method-assign]
    botocore.client.ClientCreator._load_service_model = _shared_model  # type: ignore[method-assign]


def forget_client_classes(session: botocore.session.Session) -> None:
    """Build classes again (a `creating-client-class` handler was registered on the session)."""
    _forget(_classes, session)


def forget_service_hooks(session: botocore.session.Session) -> None:
    """Build hooks templates again (a handler was registered on the session: the next clients copy it too)."""
    _forget(_hooks, session)


def _forget(cache: "weakref.WeakKeyDictionary[Any, dict[Any, Any]]", session: botocore.session.Session) -> None:
    with _lock:
        built = cache.get(session.get_component("event_emitter"))
        if built is not None:
            built.clear()
