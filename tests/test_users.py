"""Users and roles over HTTP: JWTs (HS256 with a shared secret, RS256/ES256 against an identity provider's JWKS)
and the static token establish who calls and with which role; the role decides which tools a caller sees and
which AWS calls the guard lets through; CloudTrail names the user; a user's confirmation is theirs alone."""

import json
import urllib.error
import urllib.request
from pathlib import Path

import jwt
import pytest

from auth import JwksKeys, JwtVerifier, Rejected, RoleRules
from config import ConfigError, load_settings
from guard.policy import Policy, PolicyError
from http_app import check_exposure
from sandbox import PROD_ACCOUNT
from tests.conftest import connect, serve
from tests.helpers import audit_records, fails, ok
from tests.issuers import AUDIENCE, ISSUER, SECRET, bearer, hs256, hs256_settings, jwks_server, new_key

pytestmark = pytest.mark.anyio

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "curl", "version": "1"}},
}
WRITE_TOOLS = {
    "create_secret",
    "update_secret",
    "delete_secret",
    "change_records",
    "put_object",
    "delete_object",
    "presign_url",
    "execute",
    "execute_aws_write_command",
}


def request(url: str, headers: dict[str, str] | None = None, body: dict | None = INITIALIZE) -> tuple[int, dict, str]:
    """One HTTP request (a POSTed initialize by default): status, headers, body."""
    data = json.dumps(body).encode() if body is not None else None
    sent = urllib.request.Request(
        url,
        data=data,
        method="POST" if data is not None else "GET",
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            **(headers or {}),
        },
    )
    try:
        with urllib.request.urlopen(sent, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def policy_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return str(path)


@pytest.fixture
def jwt_served(make_settings):
    with serve(make_settings(**hs256_settings())) as running:
        yield running


# --- who calls ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["http", "sse"])
async def test_a_jwt_user_is_the_principal_of_the_audit_record(jwt_served, audit_file, transport):
    token = hs256("alice", "operator")
    async with connect(jwt_served.url, transport, headers=bearer(token)) as client:
        await ok(client, "list_secrets")
    record = audit_records(audit_file)[-1]
    assert (record["principal"], record["auth"], record["role"]) == (f"jwt:{ISSUER}|alice", "jwt", "operator")
    assert token not in audit_file.read_text()


async def test_two_issuers_subjects_are_two_principals(make_settings, audit_file):
    with serve(make_settings(**hs256_settings(AWS_MCP_JWT_ISSUER="https://other.test"))) as running:
        token = hs256("alice", "viewer", iss="https://other.test")
        async with connect(running.url, headers=bearer(token)) as client:
            await ok(client, "list_accounts")
    assert audit_records(audit_file)[-1]["principal"] == "jwt:https://other.test|alice"


@pytest.mark.parametrize(
    ("token", "because"),
    [
        (lambda: hs256(exp=1_000_000_000, iat=999_999_000, nbf=999_999_000), "expired"),
        (lambda: hs256(nbf=4_000_000_000), "not valid yet"),
        (lambda: hs256(aud="some-other-service"), "not issued for this server"),
        (lambda: hs256(iss="https://evil.test"), "issuer this server does not trust"),
        (lambda: hs256(secret="another-secret-that-is-32-bytes-long!!"), "signature does not verify"),
        (lambda: hs256(exp=None), "no exp claim"),
        (lambda: hs256(sub=None), "no sub claim"),
        (lambda: hs256(aud=None), "no aud claim"),
        (
            lambda: jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "a", "exp": 4_000_000_000}, None, "none"),
            "'none'",
        ),
        (lambda: hs256().rsplit(".", 1)[0] + ".", "signature does not verify"),
        (lambda: "not-a-jwt", "not a valid JWT"),
    ],
    ids=[
        "expired",
        "nbf",
        "audience",
        "issuer",
        "signature",
        "no-exp",
        "no-sub",
        "no-aud",
        "alg-none",
        "unsigned",
        "garbage",
    ],
)
def test_a_bad_jwt_is_refused_with_401_saying_why_without_echoing_it(jwt_served, token, because):
    """Tokens are made when the test runs (not at collection), so a long suite does not expire them."""
    token = token()
    status, headers, body = request(f"{jwt_served.url}/mcp", bearer(token))
    assert status == 401
    challenge = headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge
    assert because in challenge and because in json.loads(body)["error_description"]
    assert token not in challenge and token not in body


def test_a_token_a_little_past_its_expiry_is_within_the_leeway(jwt_served):
    import time

    now = int(time.time())
    assert request(f"{jwt_served.url}/mcp", bearer(hs256(exp=now - 10, iat=now - 100, nbf=now - 100)))[0] == 200


def test_no_token_is_401_with_a_bearer_challenge(jwt_served):
    status, headers, _ = request(f"{jwt_served.url}/mcp")
    assert status == 401 and headers["www-authenticate"].startswith('Bearer realm="aws-ops-mcp"')
    assert "error=" not in headers["www-authenticate"]  # RFC 6750: no error code when no credentials were sent


def test_a_valid_token_that_names_no_role_is_403_unless_a_default_role_is_set(make_settings, audit_file):
    with serve(make_settings(**hs256_settings())) as running:
        for role in (None, "superuser", ["staff"]):
            status, headers, _ = request(f"{running.url}/mcp", bearer(hs256(role=role)))
            assert status == 403 and 'error="insufficient_scope"' in headers["www-authenticate"]
    with serve(make_settings(**hs256_settings(AWS_MCP_JWT_DEFAULT_ROLE="viewer"))) as running:
        assert request(f"{running.url}/mcp", bearer(hs256(role=None)))[0] == 200


async def test_a_groups_claim_maps_to_the_highest_role_it_names(make_settings, audit_file):
    settings = hs256_settings(
        AWS_MCP_JWT_ROLE_CLAIM="groups", AWS_MCP_JWT_ROLE_MAP="everyone=viewer,sre-oncall=operator"
    )
    with serve(make_settings(**settings)) as running:
        token = hs256("carol", role=None, groups=["everyone", "sre-oncall", "admin"])
        async with connect(running.url, headers=bearer(token)) as client:
            await ok(client, "list_accounts")
        # With a map, only the map grants roles: a group that happens to be called "admin" grants nothing.
        assert request(f"{running.url}/mcp", bearer(hs256(role=None, groups=["admin"])))[0] == 403
    assert audit_records(audit_file)[-1]["role"] == "operator"


def test_the_role_claim_may_be_nested_or_space_separated():
    rules = RoleRules("realm_access.roles")
    assert rules.role({"realm_access": {"roles": ["offline_access", "viewer"]}}) == "viewer"
    assert RoleRules("scope").role({"scope": "openid operator"}) == "operator"
    with pytest.raises(Rejected) as refused:
        RoleRules("roles").role({"roles": {"admin": True}})
    assert refused.value.status == 403


async def test_the_static_token_keeps_working_beside_jwts_with_its_own_role(make_settings, audit_file):
    settings = hs256_settings(MCP_AUTH_TOKEN="static-token-for-the-team-0001", AWS_MCP_STATIC_TOKEN_ROLE="viewer")
    with serve(make_settings(**settings)) as running:
        async with connect(running.url, headers=bearer("static-token-for-the-team-0001")) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert not names & WRITE_TOOLS
            refused = await fails(client, "create_secret", name="x", secret_string="v")
            assert refused["code"] == "policy_denied" and refused["rule"].startswith("roles.viewer:")
        assert request(f"{running.url}/mcp", bearer("static-token-for-the-team-0002"))[0] == 401
    record = audit_records(audit_file)[-1]
    assert (record["auth"], record["role"]) == ("static-token", "viewer")


# --- what a role may do -------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["http", "sse"])
async def test_a_viewer_sees_no_write_tools_and_an_operator_sees_them_all(jwt_served, transport):
    async with connect(jwt_served.url, transport, headers=bearer(hs256("val", "viewer"))) as viewer:
        seen = {tool.name for tool in (await viewer.list_tools()).tools}
    async with connect(jwt_served.url, transport, headers=bearer(hs256("otto", "operator"))) as operator:
        everything = {tool.name for tool in (await operator.list_tools()).tools}
    assert not seen & WRITE_TOOLS and "get_secret_value" not in seen
    assert {"list_secrets", "get_object", "execute_aws_read_command", "set_environment", "list_accounts"} <= seen
    assert everything == {spec.name for spec in jwt_served.server.tool_specs if spec.roles is None}


async def test_a_viewer_reads_but_every_other_class_is_refused_naming_the_role(jwt_served, aws):
    aws().client("secretsmanager").create_secret(Name="db", SecretString="hunter2")
    async with connect(jwt_served.url, headers=bearer(hs256("val", "viewer"))) as viewer:
        assert [s["name"] for s in (await ok(viewer, "list_secrets"))["secrets"]] == ["db"]
        refusals = [
            await fails(viewer, "get_secret_value", secret_id="db"),
            await fails(viewer, "create_secret", name="x", secret_string="v"),
            await fails(viewer, "delete_secret", secret_id="db"),
            await fails(
                viewer,
                "execute",
                action="invoke",
                service="secretsmanager",
                operation="PutSecretValue",
                payload={"SecretId": "db", "SecretString": "x"},
            ),
            await fails(viewer, "execute_aws_write_command", command="secretsmanager delete-secret --secret-id db"),
        ]
    for refused, op_class in zip(refusals, ["sensitive", "write", "destructive", "write", "destructive"], strict=True):
        assert refused["code"] == "policy_denied", refused
        assert refused["rule"] == f"roles.viewer: reads only, no sensitive reads; refuses {op_class} operations"
    assert aws().client("secretsmanager").get_secret_value(SecretId="db")["SecretString"] == "hunter2"


async def test_an_operator_confirms_destructive_calls_even_where_admins_are_auto_approved(make_settings):
    with serve(make_settings(**hs256_settings(AWS_MCP_AUTO_APPROVE_DESTRUCTIVE="true"))) as running:
        async with connect(running.url, headers=bearer(hs256("otto", "operator"))) as operator:
            await ok(operator, "create_secret", name="a", secret_string="v")
            asked = await fails(operator, "delete_secret", secret_id="a", force_delete_without_recovery=True)
            assert asked["code"] == "confirmation_required"
        async with connect(running.url, headers=bearer(hs256("ada", "admin"))) as admin:
            await ok(admin, "delete_secret", secret_id="a", force_delete_without_recovery=True)


async def test_a_roles_section_narrows_one_role_and_deny_still_wins(make_settings, tmp_path):
    policy = policy_file(
        tmp_path,
        "rules:\n  deny: ['^secretsmanager:PutSecretValue$']\n"
        "roles:\n"
        "  operator:\n    rules:\n      deny: ['^secretsmanager:DeleteSecret$']\n      allow: ['^secretsmanager:']\n"
        "    rate_limit_per_minute: 120\n"
        "  viewer:\n    read_only: false\n",
    )
    with serve(make_settings(**hs256_settings(AWS_MCP_POLICY_FILE=policy))) as running:
        async with connect(running.url, headers=bearer(hs256("otto", "operator"))) as operator:
            await ok(operator, "create_secret", name="a", secret_string="v")
            refused = await fails(operator, "delete_secret", secret_id="a")
            assert refused["rule"] == "roles.operator.rules.deny[0] '^secretsmanager:DeleteSecret$' matches " + (
                "secretsmanager:DeleteSecret"
            )
            refused = await fails(operator, "list_buckets")
            assert refused["rule"] == "roles.operator.rules.allow: no rule matches s3:ListBuckets"
            refused = await fails(operator, "update_secret", secret_id="a", secret_string="w")
            assert refused["rule"].startswith("rules.deny[0]")  # the global deny holds for every role
        async with connect(running.url, headers=bearer(hs256("ada", "admin"))) as admin:
            assert (await fails(admin, "delete_secret", secret_id="a"))["code"] == "confirmation_required"
            assert await ok(admin, "list_buckets") is not None
        async with connect(running.url, headers=bearer(hs256("val", "viewer"))) as viewer:
            # A role's section only narrows: read_only: false does not let a viewer write.
            assert (await fails(viewer, "create_secret", name="b", secret_string="v"))["rule"].startswith(
                "roles.viewer:"
            )
    loaded = Policy.load(Path(policy))
    assert (loaded.rate_limit("operator"), loaded.rate_limit("viewer"), loaded.rate_limit("admin")) == (120, None, None)


async def test_a_read_only_role_section_hides_that_roles_write_tools(make_settings, tmp_path):
    policy = policy_file(tmp_path, "roles:\n  operator:\n    read_only: true\n    allow_sensitive_reads: false\n")
    with serve(make_settings(**hs256_settings(AWS_MCP_POLICY_FILE=policy))) as running:
        async with connect(running.url, headers=bearer(hs256("otto", "operator"))) as operator:
            operator_tools = {tool.name for tool in (await operator.list_tools()).tools}
        async with connect(running.url, headers=bearer(hs256("ada", "admin"))) as admin:
            admin_tools = {tool.name for tool in (await admin.list_tools()).tools}
    assert not operator_tools & (WRITE_TOOLS | {"get_secret_value"})
    assert admin_tools >= WRITE_TOOLS


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("roles:\n  superuser:\n    read_only: true\n", "line 1: roles: unknown role 'superuser'"),
        ("roles:\n  viewer:\n    rate_limit_per_minute: 0\n", "line 3: roles.viewer.rate_limit_per_minute"),
        ("roles:\n  viewer:\n    accounts: {}\n", "line 3: roles.viewer.accounts: unknown key"),
    ],
)
def test_a_bad_roles_section_stops_startup_naming_the_line(tmp_path, text, where):
    with pytest.raises(PolicyError) as refused:
        Policy.load(Path(policy_file(tmp_path, text)))
    assert where in str(refused.value)


# --- CloudTrail names the user ------------------------------------------------------------------------


async def test_every_assumed_role_session_is_named_after_the_user(jwt_served):
    clients = jwt_served.server.app.clients
    arns = {}
    for user in ("alice", "bob", "alice"):
        async with connect(jwt_served.url, headers=bearer(hs256(user, "viewer"))) as client:
            info = await ok(client, "get_account_info", account="prod")
            arns.setdefault(user, set()).add(info["arn"])
            await ok(client, "list_secrets", account="prod")
    assert arns == {user: {f"arn:aws:sts::{PROD_ACCOUNT}:assumed-role/ops-admin/{user}"} for user in ("alice", "bob")}
    assert clients.assume_role_calls == 2  # one per (user, role), however many calls each makes


async def test_a_subject_outside_awss_characters_is_cleaned_and_cut_to_64(jwt_served):
    subject = "auth0|user with spaces/and:colons/" + "x" * 80
    async with connect(jwt_served.url, headers=bearer(hs256(subject, "viewer"))) as client:
        session = (await ok(client, "get_account_info", account="prod"))["arn"].rsplit("/", 1)[1]
    assert len(session) == 64 and session.startswith("auth0-user-with-spaces-and-colons-xxx")


async def test_callers_who_are_not_a_person_keep_the_servers_session_name(make_settings):
    with serve(make_settings(MCP_AUTH_TOKEN="static-token-for-the-team-0001")) as running:
        async with connect(running.url, headers=bearer("static-token-for-the-team-0001")) as client:
            arn = (await ok(client, "get_account_info", account="prod"))["arn"]
    assert arn.endswith("/ops-admin/aws-ops-mcp")


async def test_source_identity_names_the_user_when_enabled(make_settings):
    sent: list[dict] = []
    with serve(make_settings(**hs256_settings(AWS_MCP_SOURCE_IDENTITY="true"))) as running:
        running.server.app.clients.on("provide-client-params.sts.AssumeRole", lambda params, **_: sent.append(params))
        async with connect(running.url, headers=bearer(hs256("alice@example.com", "viewer"))) as client:
            await ok(client, "get_account_info", account="prod")
    assert [(p["RoleSessionName"], p["SourceIdentity"]) for p in sent] == [("alice@example.com", "alice@example.com")]


# --- confirmations belong to their user ---------------------------------------------------------------


async def test_user_b_cannot_redeem_user_as_confirmation_token(jwt_served, aws):
    aws().client("secretsmanager").create_secret(Name="shared", SecretString="v")
    delete = {"secret_id": "shared", "force_delete_without_recovery": True}
    async with (
        connect(jwt_served.url, headers=bearer(hs256("alice", "operator"))) as alice,
        connect(jwt_served.url, headers=bearer(hs256("bob", "operator"))) as bob,
    ):
        asked = await fails(alice, "delete_secret", **delete)
        token = asked["confirmation_token"]
        refused = await fails(bob, "delete_secret", **delete, confirmation_token=token)
        assert refused["code"] == "confirmation_invalid" and "issued to another caller" in refused["message"]
        assert aws().client("secretsmanager").list_secrets()["SecretList"]
        await ok(alice, "delete_secret", **delete, confirmation_token=token)
    assert aws().client("secretsmanager").list_secrets()["SecretList"] == []


# --- JWKS (RS256, ES256) ------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
async def test_tokens_signed_by_the_identity_providers_keys_are_accepted(make_settings, audit_file, algorithm):
    key = new_key("key-1", algorithm)
    with jwks_server(key) as idp, serve(make_settings(**idp.settings())) as running:
        for _ in range(3):
            async with connect(running.url, headers=bearer(key.sign("alice", "viewer"))) as client:
                await ok(client, "list_accounts")
        assert idp.fetches == 1  # cached
        stranger = new_key("key-1", algorithm)  # same kid, other key
        status, headers, _ = request(f"{running.url}/mcp", bearer(stranger.sign("alice", "admin")))
        assert status == 401 and "signature does not verify" in headers["www-authenticate"]
    assert audit_records(audit_file)[-1]["principal"] == f"jwt:{ISSUER}|alice"


async def test_a_rotated_key_is_fetched_when_a_token_names_it(make_settings, monkeypatch):
    monkeypatch.setattr("auth.JWKS_REFETCH_SECONDS", 0)
    old, new = new_key("2024"), new_key("2025")
    with jwks_server(old) as idp, serve(make_settings(**idp.settings())) as running:
        assert request(f"{running.url}/mcp", bearer(old.sign()))[0] == 200
        idp.keys = [old, new]
        assert request(f"{running.url}/mcp", bearer(new.sign()))[0] == 200
        assert idp.fetches == 2
        status, headers, _ = request(f"{running.url}/mcp", bearer(new_key("unknown").sign()))
        assert status == 401 and "signing key (kid) is not in the issuer's key set" in headers["www-authenticate"]


async def test_unknown_key_ids_do_not_make_the_server_hammer_the_identity_provider():
    key = new_key("k")
    with jwks_server(key) as idp:
        verifier = JwtVerifier(ISSUER, [AUDIENCE], RoleRules(), jwks=JwksKeys(idp.url, refetch_seconds=60))
        assert (await verifier.verify(key.sign())).subject == f"jwt:{ISSUER}|alice"
        for n in range(20):
            with pytest.raises(Rejected):
                await verifier.verify(new_key(f"made-up-{n}", "ES256").sign())
        assert idp.fetches == 1


async def test_the_key_set_expires_from_the_cache(monkeypatch):
    monkeypatch.setattr("auth.JWKS_TTL_SECONDS", 0)
    key = new_key("k")
    with jwks_server(key) as idp:
        verifier = JwtVerifier(ISSUER, [AUDIENCE], RoleRules(), jwks=JwksKeys(idp.url, refetch_seconds=0))
        for _ in range(2):
            await verifier.verify(key.sign())
        assert idp.fetches == 2


def test_a_slow_identity_provider_does_not_hold_up_other_requests(make_settings):
    import threading
    import time

    key = new_key("k")
    with jwks_server(key) as idp, serve(make_settings(**idp.settings())) as running:
        idp.delay = 2.0
        answered: list[int] = []
        waiting = threading.Thread(target=lambda: answered.append(request(f"{running.url}/mcp", bearer(key.sign()))[0]))
        waiting.start()
        time.sleep(0.3)  # the first token's request is now waiting for the key set
        started = time.monotonic()
        assert request(f"{running.url}/healthz", body=None)[0] == 200
        assert time.monotonic() - started < 1.0
        waiting.join(timeout=10)
    assert answered == [200]


@pytest.mark.parametrize("attack", ["hs256-with-the-public-key", "key-of-another-type"])
async def test_algorithm_confusion_is_refused(make_settings, attack):
    from cryptography.hazmat.primitives import serialization

    key = new_key("k")
    with jwks_server(key) as idp, serve(make_settings(**idp.settings())) as running:
        if attack == "hs256-with-the-public-key":
            public = key.private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            import hashlib
            import hmac as hmac_module

            header = jwt.utils.base64url_encode(json.dumps({"alg": "HS256", "kid": "k"}).encode())
            body = jwt.utils.base64url_encode(json.dumps({"iss": ISSUER, "aud": AUDIENCE, "sub": "m"}).encode())
            signature = hmac_module.new(public, header + b"." + body, hashlib.sha256).digest()
            forged = (header + b"." + body + b"." + jwt.utils.base64url_encode(signature)).decode()
            expected = "this server accepts RS256"
        else:
            ec_key = new_key("k", "ES256")
            forged = ec_key.sign("mallory", "admin")
            expected = "algorithm does not match its signing key"
        status, headers, _ = request(f"{running.url}/mcp", bearer(forged))
    assert status == 401 and expected in headers["www-authenticate"]


def test_an_unreachable_identity_provider_is_503_not_401(make_settings):
    from sandbox import free_port

    url = f"http://127.0.0.1:{free_port()}/jwks.json"
    settings = {"AWS_MCP_JWKS_URL": url, "AWS_MCP_JWT_ISSUER": ISSUER, "AWS_MCP_JWT_AUDIENCE": AUDIENCE}
    with serve(make_settings(**settings)) as running:
        status, headers, _ = request(f"{running.url}/mcp", bearer(new_key("k").sign()))
    assert status == 503 and headers["retry-after"]


# --- RFC 9728 protected-resource metadata -------------------------------------------------------------


def test_protected_resource_metadata_names_the_issuer_and_the_401_points_at_it(jwt_served):
    status, headers, _ = request(f"{jwt_served.url}/mcp", bearer(hs256(exp=1_000_000_000)))
    challenge = headers["www-authenticate"]
    pointed = challenge.split('resource_metadata="', 1)[1].split('"', 1)[0]
    assert pointed == f"{jwt_served.url}/.well-known/oauth-protected-resource/mcp"
    status, _, body = request(pointed, body=None)
    assert status == 200
    assert json.loads(body) == {
        "resource": f"{jwt_served.url}/mcp",
        "authorization_servers": [ISSUER],
        "bearer_methods_supported": ["header"],
        "resource_name": "aws-ops-mcp",
    }
    status, _, body = request(f"{jwt_served.url}/.well-known/oauth-protected-resource", body=None)
    assert status == 200 and json.loads(body)["resource"] == jwt_served.url


def test_a_configured_resource_url_is_the_metadatas_resource(make_settings):
    settings = hs256_settings(AWS_MCP_RESOURCE_URL="https://ops.example.com/mcp")
    with serve(make_settings(**settings)) as running:
        _, headers, _ = request(f"{running.url}/mcp")
        assert (
            'resource_metadata="https://ops.example.com/.well-known/oauth-protected-resource/mcp"'
            in (headers["www-authenticate"])
        )
        for path in ("", "/mcp"):
            body = request(f"{running.url}/.well-known/oauth-protected-resource{path}", body=None)[2]
            assert json.loads(body)["resource"] == "https://ops.example.com/mcp"


@pytest.mark.parametrize(
    "settings",
    [{"MCP_AUTH_TOKEN": "static-token-for-the-team-0001"}, {}, hs256_settings(AWS_MCP_JWT_ISSUER="not-a-url")],
    ids=["static-token", "no-auth", "issuer-not-a-url"],
)
def test_without_an_oauth_issuer_the_metadata_is_404_not_401(make_settings, settings):
    with serve(make_settings(**settings)) as running:
        for path in ("", "/mcp"):
            assert request(f"{running.url}/.well-known/oauth-protected-resource{path}", body=None)[0] == 404
        if settings:
            _, headers, _ = request(f"{running.url}/mcp")
            assert "resource_metadata" not in headers["www-authenticate"]


# --- configuration ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        (
            {"AWS_MCP_JWT_SECRET": SECRET, "AWS_MCP_JWKS_URL": "https://idp.example.com/jwks"},
            "AWS_MCP_JWKS_URL (RS256/ES256 keys) or AWS_MCP_JWT_SECRET (HS256), not both",
        ),
        ({"AWS_MCP_JWT_SECRET": SECRET}, "AWS_MCP_JWT_ISSUER and AWS_MCP_JWT_AUDIENCE must be set"),
        ({"AWS_MCP_JWT_SECRET": "short"}, "AWS_MCP_JWT_SECRET"),
        ({"AWS_MCP_JWKS_URL": "http://idp.example.com/jwks"}, "AWS_MCP_JWKS_URL: must be an https:// URL"),
        ({"AWS_MCP_JWT_ROLE_MAP": "sre=root"}, "AWS_MCP_JWT_ROLE_MAP"),
        ({"AWS_MCP_JWT_ROLE_MAP": "sre"}, "'sre' is not <claim value>=<role>"),
        ({"AWS_MCP_STATIC_TOKEN_ROLE": "owner"}, "AWS_MCP_STATIC_TOKEN_ROLE"),
    ],
)
def test_jwt_settings_that_cannot_work_stop_startup_naming_the_variable(environment, message):
    with pytest.raises(ConfigError) as refused:
        load_settings(environment, env_file=None)
    assert message in str(refused.value)


def test_jwts_are_authentication_enough_for_a_public_bind():
    check_exposure(load_settings(hs256_settings(), env_file=None), "0.0.0.0")
    with pytest.raises(ConfigError):
        check_exposure(load_settings({}, env_file=None), "0.0.0.0")
