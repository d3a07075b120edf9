"""One moto server per test session (reset between tests), the app served by uvicorn on loopback,
the MCP SDK's own client connected over streamable HTTP, SSE or stdio, and plain boto3 clients per
account (`aws`) to seed and inspect AWS state from outside the server."""

import contextlib
import os
import sqlite3
import threading
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import uvicorn

from config import Settings, load_settings
from generic.tools import GenericTools
from http_app import build_http_app
from observability.logs import quiet_chatty_libraries
from sandbox import DEFAULT_ACCOUNT, PROD_ACCOUNT, STAGING_ACCOUNT, assume, free_port, start_moto
from server import OpsServer, create_server
from store import Store, open_store
from store.database import SQLITE_FILE
from store.tables import METADATA
from tests.helpers import release
from tests.postgres import EmbeddedPostgres, embedded_postgres

ACCESS_KEY = "AKIATESTSESSIONKEY01"
SECRET_KEY = "test-secret-access-key-7f3a9c"
BASE_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": ACCESS_KEY,
    "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
    "AWS_REGION": "us-east-1",
    "ACCOUNT_PROD_ROLE_ARN": f"arn:aws:iam::{PROD_ACCOUNT}:role/ops-admin",
    "ACCOUNT_STAGING_ROLE_ARN": f"arn:aws:iam::{STAGING_ACCOUNT}:role/ops-readonly",
    "ACCOUNT_STAGING_REGION": "eu-west-1",
}


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Async tests run on anyio's runner (`pytestmark = pytest.mark.anyio`), which keeps an async
    fixture's setup and teardown in one task, as the MCP client's task groups require."""
    return "asyncio"


@pytest.fixture(scope="session", autouse=True)
def quiet_libraries() -> None:
    """As main() does: botocore and friends log bodies (secrets included) at DEBUG."""
    quiet_chatty_libraries()


@pytest.fixture(scope="session")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One embedded state database for the session's servers (tokens carry random nonces: no test sees
    another's), so no test writes to the user's own state folder. Store tests open their own."""
    return tmp_path_factory.mktemp("state")


@pytest.fixture(autouse=True)
def fresh_state(state_dir: Path) -> None:
    """The session's state database, emptied before each test: what one test refreshed, stored or spent is not the
    next one's (write-through lists again what the inventory holds, so a partition an earlier test refreshed would
    add listings and audit records to a later test's writes)."""
    database = state_dir / SQLITE_FILE
    if not database.exists():
        return
    with contextlib.closing(sqlite3.connect(database, timeout=30)) as connection, connection:
        for table in reversed(METADATA.sorted_tables):
            connection.execute(f'DELETE FROM "{table.name}"')


@pytest.fixture(scope="session")
def postgres() -> Iterator[EmbeddedPostgres]:
    """One real PostgreSQL per session, started by the first test that asks for it."""
    with embedded_postgres() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """AWS_MCP_DATABASE_URL for a shared, empty state database: a SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared-state.db'}"
    return request.getfixturevalue("postgres").fresh_database()


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """The state database at `database_url`, migrated: the store's own tests, on both backends."""
    opened = open_store(load_settings({"AWS_MCP_DATABASE_URL": database_url}, env_file=None))
    yield opened
    opened.close()


class Clock:
    """A clock the test moves: times of the store's rows without waiting."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory, state_dir: Path) -> Iterator[str]:
    home = tmp_path_factory.mktemp("aws-home")
    saved = dict(os.environ)
    # AWS_DATA_PATH stays: importing awscli sets it to awscli's own data (catalog/cli.py's parser needs it).
    for name in [n for n in os.environ if n.startswith(("AWS_", "ACCOUNT_")) or n == "MCP_AUTH_TOKEN"]:
        if name != "AWS_DATA_PATH":
            del os.environ[name]
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_CONFIG_FILE": str(home / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_MCP_STATE_DIR": str(state_dir),  # servers started as child processes inherit it
        }
    )
    server, endpoint = start_moto()
    yield endpoint
    server.stop()
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(autouse=True)
def fresh_moto(request: pytest.FixtureRequest) -> None:
    if "moto_endpoint" in request.fixturenames:
        endpoint = request.getfixturevalue("moto_endpoint")
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).close()


@dataclass
class Account:
    """One account as an outsider reaches it: its own boto3 session straight against moto."""

    id: str
    region: str
    session: boto3.Session
    endpoint: str

    def client(self, service: str, region: str | None = None):
        return self.session.client(service, region_name=region or self.region, endpoint_url=self.endpoint)


@pytest.fixture
def aws(moto_endpoint: str) -> Callable[..., Account]:
    """Seed and inspect AWS state the way an outsider would, never through the server's client cache.

    `aws()` is the default account (123456789012, the test keys); `aws(account="prod")` and
    `aws(account="staging")` assume the aliases' roles (BASE_ENVIRONMENT) and use their regions:
    `aws(account="prod").client("route53").create_hosted_zone(...)`.
    """
    keys = {"aws_access_key_id": ACCESS_KEY, "aws_secret_access_key": SECRET_KEY}
    default_region = BASE_ENVIRONMENT["AWS_REGION"]
    opened: dict[str, Account] = {}

    def open_account(account: str = "default") -> Account:
        name = account.lower()
        if name not in opened:
            if name == "default":
                opened[name] = Account(DEFAULT_ACCOUNT, default_region, boto3.Session(**keys), moto_endpoint)
            else:
                role_arn = BASE_ENVIRONMENT[f"ACCOUNT_{name.upper()}_ROLE_ARN"]
                region = BASE_ENVIRONMENT.get(f"ACCOUNT_{name.upper()}_REGION", default_region)
                session = boto3.Session(**assume(moto_endpoint, role_arn, keys))
                opened[name] = Account(role_arn.split(":")[4], region, session, moto_endpoint)
        return opened[name]

    return open_account


@pytest.fixture
def site_pipe(files_root: Path) -> Iterator[Path]:
    """A named pipe in the test module's files root (`site/pipe`), released at teardown: a regression fails on
    the timeout, then the blocked worker thread goes on and the suite ends."""
    pipe = files_root / "site" / "pipe"
    os.mkfifo(pipe)
    yield pipe
    release(pipe)


@pytest.fixture
def audit_file(tmp_path: Path) -> Path:
    return tmp_path / "audit.jsonl"


@pytest.fixture(scope="session")
def operation_index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One operation-search cache for the session: the index is built (seconds) at most once."""
    return tmp_path_factory.mktemp("operation-index")


@pytest.fixture
def make_settings(moto_endpoint: str, audit_file: Path, operation_index_dir: Path, state_dir: Path):
    def make(**overrides: str) -> Settings:
        environment = {
            **BASE_ENVIRONMENT,
            "AWS_ENDPOINT_URL": moto_endpoint,
            "AWS_MCP_AUDIT_LOG": str(audit_file),
            "AWS_MCP_CACHE_DIR": str(operation_index_dir),
            "AWS_MCP_STATE_DIR": str(state_dir),
        }
        environment.update(overrides)
        return load_settings({k: v for k, v in environment.items() if v is not None}, env_file=None)

    return make


@dataclass
class Served:
    url: str
    server: OpsServer

    @property
    def mcp_url(self) -> str:
        return f"{self.url}/mcp"


@contextmanager
def serve(settings: Settings, build_index: bool = False) -> Iterator[Served]:
    """The app on a free loopback port, served by uvicorn in a thread, as in production.

    Unless `build_index` is set, the server does not build a missing search index at start-up: the
    tests share one index cache and most never search, and seconds of building in this process
    would compete for the GIL with whatever the next tests measure.
    """
    server = create_server(settings)
    if not build_index:
        server.app.provider(GenericTools).start_index_build = lambda: None  # type: ignore[method-assign]
    port = free_port()
    app = build_http_app(server, settings, "127.0.0.1")
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield Served(f"http://127.0.0.1:{port}", server)
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
        server.app.runtime.store.close()


@pytest.fixture
def served(make_settings) -> Iterator[Served]:
    with serve(make_settings()) as running:
        yield running


@asynccontextmanager
async def connect(url: str, transport: str = "http", **kwargs) -> AsyncIterator:
    import httpx2
    from mcp import Client
    from mcp.client.sse import sse_client
    from mcp.client.streamable_http import streamable_http_client

    headers = kwargs.pop("headers", None)
    if transport == "sse":
        async with Client(sse_client(f"{url}/sse", headers=headers), **kwargs) as client:
            yield client
        return
    if transport == "legacy-http":
        kwargs["mode"] = "legacy"
    server = f"{url}/mcp"
    if headers:
        server = streamable_http_client(server, http_client=httpx2.AsyncClient(headers=headers, timeout=30))
    async with Client(server, **kwargs) as client:
        yield client


@pytest.fixture
async def client(served: Served) -> AsyncIterator:
    async with connect(served.url) as connected:
        yield connected
