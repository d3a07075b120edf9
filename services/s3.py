"""S3: buckets, objects and presigned URLs."""

import base64
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from services.base import AwsCall, ServiceManager, Target
from services.errors import AwsError

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


class S3Manager(ServiceManager):
    service = "s3"

    async def list_buckets(self, target: Target) -> BucketList:
        raw = await self.call(target, "ListBuckets")
        return BucketList(buckets=[Bucket(name=b["Name"], created=b.get("CreationDate")) for b in raw["Buckets"]])

    async def list_objects(
        self,
        target: Target,
        bucket: str,
        prefix: str | None,
        delimiter: str | None,
        max_keys: int | None,
        continuation_token: str | None,
    ) -> ObjectList:
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

    async def get_object(self, target: Target, bucket: str, key: str, max_bytes: int | None) -> ObjectContent:
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

    async def put_object(
        self, target: Target, bucket: str, key: str, body: str, content_type: str | None
    ) -> ObjectWritten:
        raw = await self.call(
            target, "PutObject", Bucket=bucket, Key=key, Body=body.encode("utf-8"), ContentType=content_type
        )
        return ObjectWritten(bucket=bucket, key=key, etag=raw.get("ETag"), version_id=raw.get("VersionId"))

    async def delete_object(self, target: Target, bucket: str, key: str, version_id: str | None) -> ObjectDeleted:
        what = f"version {version_id} of " if version_id else ""
        summary = f"delete {what}object s3://{bucket}/{key}"
        raw = await self.call(target, "DeleteObject", summary, Bucket=bucket, Key=key, VersionId=version_id)
        return ObjectDeleted(
            bucket=bucket,
            key=key,
            version_id=raw.get("VersionId"),
            delete_marker=bool(raw.get("DeleteMarker")),
        )

    async def presign_url(
        self, target: Target, bucket: str, key: str, method: Literal["get", "put"], expires_in: int
    ) -> PresignedUrl:
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
