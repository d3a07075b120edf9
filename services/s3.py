"""S3: buckets, objects and presigned URLs."""

import base64
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from core.calls import AwsCall, Target
from core.errors import AwsError
from services.base import ServiceManager
from tooling import tool

DEFAULT_MAX_BYTES = 1_000_000


class Bucket(BaseModel):
    name: str
    created: datetime | None = None


class BucketList(BaseModel):
    buckets: list[Bucket]


class ObjectSummary(BaseModel):
    key: str
    size: int
    last_modified: datetime | None = None
    storage_class: str | None = None


class ObjectList(BaseModel):
    bucket: str
    objects: list[ObjectSummary]
    common_prefixes: list[str] = Field([], description="'Folders' under the prefix when a delimiter is given")
    next_continuation_token: str | None = Field(None, description="Pass as continuation_token for the next page")


class ObjectContent(BaseModel):
    bucket: str
    key: str
    size: int = Field(description="The object's full size in bytes")
    content_type: str | None = None
    encoding: Literal["text", "base64"]
    body: str
    truncated: bool = Field(description="True when only the first max_bytes bytes are returned")


class ObjectWritten(BaseModel):
    bucket: str
    key: str
    etag: str | None = None
    version_id: str | None = None


class ObjectDeleted(BaseModel):
    bucket: str
    key: str
    version_id: str | None = None
    delete_marker: bool = False


class PresignedUrl(BaseModel):
    url: str
    method: Literal["get", "put"]
    expires_in: int


BucketName = Annotated[str, Field(description="Bucket name")]
Key = Annotated[str, Field(description="Object key")]


class S3Manager(ServiceManager):
    service = "s3"
    toolset = "s3"

    @tool("List buckets", calls=("ListBuckets",), idempotent=True)
    async def list_buckets(self, target: Target) -> BucketList:
        """List the account's S3 buckets."""
        raw = await self.call(target, "ListBuckets")
        return BucketList(buckets=[Bucket(name=b["Name"], created=b.get("CreationDate")) for b in raw["Buckets"]])

    @tool("List objects", calls=("ListObjectsV2",), idempotent=True)
    async def list_objects(
        self,
        target: Target,
        bucket: BucketName,
        prefix: str | None = None,
        delimiter: Annotated[str | None, Field(description="'/' groups keys into folders")] = None,
        max_keys: Annotated[int | None, Field(ge=1, le=1000)] = None,
        continuation_token: Annotated[str | None, Field(description="next_continuation_token of the last page")] = None,
    ) -> ObjectList:
        """List objects in a bucket under an optional prefix, a page at a time."""
        page = await self.call(
            target,
            "ListObjectsV2",
            Bucket=bucket,
            Prefix=prefix,
            Delimiter=delimiter,
            MaxKeys=max_keys or 1000,
            ContinuationToken=continuation_token,
        )
        objects = [
            ObjectSummary(
                key=o["Key"], size=o["Size"], last_modified=o.get("LastModified"), storage_class=o.get("StorageClass")
            )
            for o in page.get("Contents", [])
        ]
        return ObjectList(
            bucket=bucket,
            objects=objects,
            common_prefixes=[p["Prefix"] for p in page.get("CommonPrefixes", [])],
            next_continuation_token=page.get("NextContinuationToken") if page.get("IsTruncated") else None,
        )

    @tool("Read an object", calls=("GetObject",), idempotent=True)
    async def get_object(
        self,
        target: Target,
        bucket: BucketName,
        key: Key,
        max_bytes: Annotated[int | None, Field(ge=1, le=10_000_000, description="Read at most this much")] = None,
    ) -> ObjectContent:
        """Read an object: text when it is UTF-8, else base64; cut at max_bytes (default 1 MB) with truncated=true."""
        limit = max_bytes or DEFAULT_MAX_BYTES
        resolved = self.resolve(target)
        try:
            raw = await self.call(resolved, "GetObject", Bucket=bucket, Key=key, Range=f"bytes=0-{limit - 1}")
        except AwsError as exc:
            if exc.code != "InvalidRange":
                raise
            raw = await self.call(resolved, "GetObject", Bucket=bucket, Key=key)  # an empty object has no byte 0
        body = await self.executor.in_thread(_read_body, raw["Body"], limit)
        total = _total_size(raw, len(body))
        try:
            text, encoding = body.decode("utf-8"), "text"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(body).decode(), "base64"
        return ObjectContent(
            bucket=bucket,
            key=key,
            size=total,
            content_type=raw.get("ContentType"),
            encoding=encoding,
            body=text,
            truncated=total > len(body),
        )

    @tool("Write an object", calls=("PutObject",), idempotent=True)
    async def put_object(
        self,
        target: Target,
        bucket: BucketName,
        key: Key,
        body: Annotated[str, Field(description="Text content to store")],
        content_type: str | None = None,
    ) -> ObjectWritten:
        """Store text as an object (replacing any object with that key)."""
        raw = await self.call(
            target, "PutObject", Bucket=bucket, Key=key, Body=body.encode("utf-8"), ContentType=content_type
        )
        return ObjectWritten(bucket=bucket, key=key, etag=raw.get("ETag"), version_id=raw.get("VersionId"))

    @tool("Delete an object", calls=("DeleteObject",), idempotent=True)
    async def delete_object(
        self, target: Target, bucket: BucketName, key: Key, version_id: str | None = None
    ) -> ObjectDeleted:
        """Delete an object (or one version of it). Needs confirmation."""
        what = f"version {version_id} of " if version_id else ""
        summary = f"delete {what}object s3://{bucket}/{key}"
        raw = await self.call(target, "DeleteObject", summary, Bucket=bucket, Key=key, VersionId=version_id)
        return ObjectDeleted(
            bucket=bucket,
            key=key,
            version_id=raw.get("VersionId"),
            delete_marker=bool(raw.get("DeleteMarker")),
        )

    @tool("Presign a URL", calls=("GetObject", "PutObject"))
    async def presign_url(
        self,
        target: Target,
        bucket: BucketName,
        key: Key,
        method: Literal["get", "put"] = "get",
        expires_in: Annotated[int, Field(ge=1, le=604800, description="Seconds the URL stays valid")] = 3600,
    ) -> PresignedUrl:
        """A presigned URL to download (get) or upload (put) one object without credentials; guarded like the
        call it grants."""
        operation = "GetObject" if method == "get" else "PutObject"
        call = AwsCall(self.resolve(target), self.service, operation, {"Bucket": bucket, "Key": key})
        url = await self.executor.presign(call, expires_in)
        return PresignedUrl(url=url, method=method, expires_in=expires_in)


def _read_body(stream, limit: int) -> bytes:
    with stream:
        return stream.read(limit)


def _total_size(raw: dict, read: int) -> int:
    """The full object size: from Content-Range when the answer is partial."""
    content_range = raw.get("ContentRange")
    if content_range and "/" in content_range:
        total = content_range.rsplit("/", 1)[-1]
        if total.isdigit():
            return int(total)
    return int(raw.get("ContentLength", read))
