"""S3 tools, driven over streamable HTTP by the MCP SDK's client against moto."""

import base64
import urllib.request

import pytest

from tests.helpers import fails, ok

pytestmark = pytest.mark.anyio


async def test_objects_round_trip_as_text_or_base64_and_are_cut_at_max_bytes(client, aws):
    s3 = aws().client("s3")
    s3.create_bucket(Bucket="logs")
    assert [b["name"] for b in (await ok(client, "list_buckets"))["buckets"]] == ["logs"]
    await ok(client, "put_object", bucket="logs", key="a/hello.txt", body="hello world", content_type="text/plain")
    s3.put_object(Bucket="logs", Key="a/blob.bin", Body=bytes(range(256)))
    s3.put_object(Bucket="logs", Key="empty", Body=b"")
    text = await ok(client, "get_object", bucket="logs", key="a/hello.txt")
    assert (text["body"], text["encoding"], text["truncated"]) == ("hello world", "text", False)
    cut = await ok(client, "get_object", bucket="logs", key="a/hello.txt", max_bytes=5)
    assert (cut["body"], cut["size"], cut["truncated"]) == ("hello", 11, True)
    binary = await ok(client, "get_object", bucket="logs", key="a/blob.bin")
    assert binary["encoding"] == "base64" and base64.b64decode(binary["body"]) == bytes(range(256))
    assert (await ok(client, "get_object", bucket="logs", key="empty"))["body"] == ""
    listed = await ok(client, "list_objects", bucket="logs", prefix="a/", delimiter="/")
    assert sorted(o["key"] for o in listed["objects"]) == ["a/blob.bin", "a/hello.txt"]
    paged = await ok(client, "list_objects", bucket="logs", max_keys=1)
    assert len(paged["objects"]) == 1 and paged["next_continuation_token"]
    rest = await ok(client, "list_objects", bucket="logs", continuation_token=paged["next_continuation_token"])
    assert len(rest["objects"]) == 2


async def test_missing_bucket_is_a_clear_tool_error(client):
    error = await fails(client, "list_objects", bucket="no-such-bucket")
    assert error["code"] == "NoSuchBucket"


async def test_presigned_url_downloads_the_object(client, aws):
    s3 = aws().client("s3")
    s3.create_bucket(Bucket="share")
    s3.put_object(Bucket="share", Key="report.txt", Body=b"quarterly")
    signed = await ok(client, "presign_url", bucket="share", key="report.txt", expires_in=60)
    assert "X-Amz-Signature" in signed["url"] or "Signature" in signed["url"]
    with urllib.request.urlopen(signed["url"]) as response:
        assert response.read() == b"quarterly"
