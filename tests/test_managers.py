"""Service managers called directly, without MCP: the app as `build_app` makes it, a `Target`, moto.

Outside a tool call `core.invocation.current()` is an anonymous invocation; the calls still pass the guard.
"""

import pytest

from core.calls import Target
from core.errors import ConfirmationRequired, InvalidInput, NotFound
from core.invocation import Invocation, activate, deactivate
from sandbox import PROD_ACCOUNT
from server import App, build_app
from services.route53 import Route53Manager
from services.s3 import S3Manager
from services.secretsmanager import SecretsManagerManager

pytestmark = pytest.mark.anyio


@pytest.fixture
def app(make_settings) -> App:
    return build_app(make_settings())


async def test_secret_created_through_the_manager_in_prod_is_read_back_there_and_only_there(app, aws):
    secrets = app.provider(SecretsManagerManager)
    prod = Target(account="prod")
    written = await secrets.create_secret(prod, name="db/password", secret_string="s3cret", tags={"team": "sre"})
    assert written.arn.split(":")[4] == PROD_ACCOUNT
    value = await secrets.get_secret_value(prod, secret_id="db/password")
    assert (value.name, value.secret_string, value.version_stages) == ("db/password", "s3cret", ["AWSCURRENT"])
    assert aws(account="prod").client("secretsmanager").get_secret_value(SecretId="db/password")["SecretString"] == (
        "s3cret"
    )
    assert aws().client("secretsmanager").list_secrets()["SecretList"] == []


async def test_manager_calls_pass_the_guard_a_destructive_one_needs_a_token(app, aws):
    aws().client("secretsmanager").create_secret(Name="doomed", SecretString="v")
    secrets = app.provider(SecretsManagerManager)
    # As the tool layer does: one invocation per call, which carries the confirmation token when there is one.
    invocation = activate(Invocation(tool="delete_secret"))
    try:
        with pytest.raises(ConfirmationRequired) as asked:
            await secrets.delete_secret(Target(), secret_id="doomed", force_delete_without_recovery=True)
        assert asked.value.details["action"].startswith("delete secret doomed, no recovery window in account ")
        assert aws().client("secretsmanager").describe_secret(SecretId="doomed")["Name"] == "doomed"
    finally:
        deactivate(invocation)
    token = asked.value.details["confirmation_token"]
    confirmed = activate(Invocation(tool="delete_secret", confirmation_token=token))
    try:
        deleted = await secrets.delete_secret(Target(), secret_id="doomed", force_delete_without_recovery=True)
    finally:
        deactivate(confirmed)
    assert (deleted.name, deleted.recoverable) == ("doomed", False)
    assert aws().client("secretsmanager").list_secrets()["SecretList"] == []


async def test_zone_id_resolves_a_domain_name_and_passes_an_id_through(app, aws):
    route53 = aws().client("route53")
    zone_id = route53.create_hosted_zone(Name="example.org", CallerReference="z1")["HostedZone"]["Id"].split("/")[-1]
    manager = app.provider(Route53Manager)
    target = manager.resolve(Target())
    assert await manager.zone_id(target, "example.org") == zone_id
    assert await manager.zone_id(target, "example.org.") == zone_id
    assert await manager.zone_id(target, f"/hostedzone/{zone_id}") == zone_id
    with pytest.raises(NotFound):
        await manager.zone_id(target, "nowhere.example")
    route53.create_hosted_zone(Name="example.org", CallerReference="z2")
    with pytest.raises(InvalidInput, match=r"several hosted zones are named example\.org"):
        await manager.zone_id(target, "example.org")


async def test_get_object_is_cut_at_max_bytes_and_reports_the_full_size(app, aws):
    s3 = aws().client("s3")
    s3.create_bucket(Bucket="logs")
    s3.put_object(Bucket="logs", Key="app.log", Body=b"0123456789", ContentType="text/plain")
    s3.put_object(Bucket="logs", Key="blob.bin", Body=bytes(range(200, 256)))
    s3.put_object(Bucket="logs", Key="empty", Body=b"")
    manager = app.provider(S3Manager)
    cut = await manager.get_object(Target(), bucket="logs", key="app.log", max_bytes=4)
    assert (cut.body, cut.encoding, cut.size, cut.truncated) == ("0123", "text", 10, True)
    assert cut.content_type == "text/plain"
    whole = await manager.get_object(Target(), bucket="logs", key="app.log", max_bytes=10)
    assert (whole.body, whole.size, whole.truncated) == ("0123456789", 10, False)
    binary = await manager.get_object(Target(), bucket="logs", key="blob.bin", max_bytes=3)
    assert (binary.encoding, binary.body, binary.size, binary.truncated) == ("base64", "yMnK", 56, True)
    empty = await manager.get_object(Target(), bucket="logs", key="empty", max_bytes=4)
    assert (empty.body, empty.size, empty.truncated) == ("", 0, False)
