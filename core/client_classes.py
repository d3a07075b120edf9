"""botocore client classes built once per (service, API version) for the sessions that ask for it.

botocore builds a new client class for every client: one method, one docstring object and one operation model per
operation, then `type(...)`. For EC2 (~830 operations) that is ~20 ms of CPU and ~1.4 MB per client. A fleet call
makes one client per (account, region), 1,020 of them for 60 accounts × 17 regions, so the class is built once
and shared instead: its methods only call `self._make_api_call(name, kwargs)`, and what `creating-client-class`
handlers add depends on the service alone. Each client keeps its own instance state (credentials, region,
endpoint, event hooks).

`share_client_classes(session)` opts a session in; sessions not opted in (boto3's, the catalog's) build classes
as botocore does.
"""

import threading
import weakref
from typing import Any

import botocore.client
import botocore.session

_build = botocore.client.ClientCreator._create_client_class
_lock = threading.Lock()
_classes: "weakref.WeakKeyDictionary[Any, dict[tuple[str, str | None], type]]" = weakref.WeakKeyDictionary()
"""Per opted-in session's event emitter (what `ClientCreator` is given): the classes built for it."""


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


def share_client_classes(session: botocore.session.Session) -> None:
    """Clients `session` creates from now on share one class per service."""
    with _lock:
        _classes.setdefault(session.get_component("event_emitter"), {})
    botocore.client.ClientCreator._create_client_class = _shared_class  # type: ignore[method-assign]


def forget_client_classes(session: botocore.session.Session) -> None:
    """Build classes again (a `creating-client-class` handler was registered on the session)."""
    with _lock:
        built = _classes.get(session.get_component("event_emitter"))
        if built is not None:
            built.clear()
