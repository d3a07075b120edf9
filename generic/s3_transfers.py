"""The high-level `aws s3` commands (ls, cp, mb, rb, rm) as S3 API calls, each through the guard.

`catalog.cli` turns the command line into an `S3Transfer`; this module plans the API calls it
stands for and runs them one by one through `GenericApi.call`, so every object written, read or
deleted is its own guarded, audited call. Local paths are inside AWS_MCP_FILES_ROOT (checked by
the parser and again when a file is opened).

Listings are read raw, page by page (`GenericApi.call`, before any output cap), so counts and the
objects processed cover everything that matched; only what the result shows is cut to
AWS_MCP_MAX_OUTPUT_BYTES, and the result then says how much it lists. `cp --recursive` copies
every match. A recursive delete is one DeleteObjects call of up to 1,000 keys, so it needs one
confirmation; the result says how many matches are left, and the same command deletes the next ones.
"""

import mimetypes
import posixpath
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from botocore.client import BaseClient

from catalog.models import operation_model
from core.calls import AwsCall, ResolvedTarget
from core.errors import CommandRefused, InvalidInput
from core.executor import AwsExecutor
from core.files import LocalFiles
from core.output import fit
from core.payload import path_reference
from generic.api import ApiResult, GenericApi, Pagination, Request, Response
from generic.s3_plans import (
    FIT_HINT,
    MAX_LISTED,
    MAX_OBJECTS,
    OBJECT_OPTIONS,
    PAGE_SIZE,
    UNSUPPORTED,
    Copy,
    Listing,
    delete_params,
    delete_summary,
    deletion,
    folder,
    included,
    inside_source,
    into,
    join,
    ls_continuation,
    refuse_options,
    say_listed,
    tag_set,
    under,
)
from guard.guard import Guard


class S3Transfers:
    def __init__(self, api: GenericApi, executor: AwsExecutor, guard: Guard, files: LocalFiles) -> None:
        self.api = api
        self.executor = executor
        self.guard = guard
        self.files = files

    async def run(self, target: ResolvedTarget, action: str, args: dict[str, Any]) -> ApiResult:
        if action in UNSUPPORTED:
            raise CommandRefused(UNSUPPORTED[action])
        handler = {"ls": self._ls, "cp": self._cp, "mb": self._mb, "rb": self._rb, "rm": self._rm}[action]
        return await handler(target, dict(args))

    # --- ls, mb, rb ------------------------------------------------------------------------------

    async def _ls(self, target: ResolvedTarget, args: dict[str, Any]) -> ApiResult:
        location = args.pop("location")
        recursive = args.pop("recursive", False)
        summarize = args.pop("summarize", False)
        refuse_options("ls", args)
        if location is None:
            listed = await self._call(target, "ListBuckets", {})
            buckets = [{"name": b["Name"], "created": b.get("CreationDate")} for b in listed.data.get("Buckets", [])]
            return self._result(listed.call, {"buckets": buckets})
        params = {"Bucket": location["bucket"], "Prefix": location["key"]}
        if not recursive:
            params["Delimiter"] = "/"
        listing, last = await self._listing(target, params, every_page=summarize)
        shown: dict[str, Any] = {"bucket": location["bucket"], "prefixes": listing.prefixes, "objects": listing.objects}
        if summarize:
            shown["total_objects"] = listing.total_objects
            shown["total_size"] = listing.total_size
        result = self._result(last, shown)
        if listing.unshown or result.truncation is not None:
            result.result.update(ls_continuation(params, result.result.get("objects", []), listing, summarize))
        return result

    async def _listing(
        self, target: ResolvedTarget, params: dict[str, Any], every_page: bool
    ) -> tuple[Listing, AwsCall]:
        """The entries `ls` keeps, reading every page when `every_page` (to count), else until it has enough."""
        listing, last = Listing(), None
        async with aclosing(self._pages(target, params)) as pages:
            async for page in pages:
                listing.add(page.data)
                last = page.call
                if listing.full and not every_page:
                    listing.unshown = listing.unshown or page.next_token is not None
                    break
        assert last is not None
        return listing, last

    async def _mb(self, target: ResolvedTarget, args: dict[str, Any]) -> ApiResult:
        bucket = args.pop("location")["bucket"]
        tags = args.pop("tags", None)
        refuse_options("mb", args)
        params: dict[str, Any] = {"Bucket": bucket}
        if target.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": target.region}
        created = await self._call(target, "CreateBucket", params)
        if tags:
            await self._call(target, "PutBucketTagging", {"Bucket": bucket, "Tagging": {"TagSet": tag_set(tags)}})
        return self._result(created.call, {"created": f"s3://{bucket}", "region": target.region})

    async def _rb(self, target: ResolvedTarget, args: dict[str, Any]) -> ApiResult:
        bucket = args.pop("location")["bucket"]
        force = args.pop("force", False)
        refuse_options("rb", args)
        if force:
            probe = await self._call(target, "ListObjectsV2", {"Bucket": bucket, "MaxKeys": 1})
            if probe.data.get("KeyCount"):
                raise CommandRefused(
                    f"s3://{bucket} is not empty; --force would delete every object in it unseen",
                    hint=f"run `s3 rm s3://{bucket} --recursive` first (one confirmed delete per 1,000 objects)",
                )
        removed = await self._call(target, "DeleteBucket", {"Bucket": bucket})
        return self._result(removed.call, {"removed": f"s3://{bucket}"})

    # --- rm --------------------------------------------------------------------------------------

    async def _rm(self, target: ResolvedTarget, args: dict[str, Any]) -> ApiResult:
        location = args.pop("location")
        recursive = args.pop("recursive", False)
        dryrun = args.pop("dryrun", False)
        filters = args.pop("filters", [])
        refuse_options("rm", args)
        bucket = location["bucket"]
        if not recursive:
            if dryrun:
                steps = [{"action": "delete", "from": f"s3://{bucket}/{location['key']}"}]
                return self._plan("DeleteObject", target, steps, 1)
            deleted = await self._call(target, "DeleteObject", {"Bucket": bucket, "Key": location["key"]})
            return self._result(deleted.call, {"deleted": [f"s3://{bucket}/{location['key']}"]})
        prefix = folder(location["key"])
        keys, matched = [], 0
        async for key, _ in self._matching(target, bucket, prefix, filters):
            matched += 1
            if len(keys) < MAX_OBJECTS:
                keys.append(key)
        if dryrun:
            steps = [{"action": "delete", "from": f"s3://{bucket}/{key}"} for key in keys]
            return self._plan("DeleteObjects", target, steps, len(keys), matched)
        if not keys:
            return self._nothing(target, "DeleteObjects", f"no objects under s3://{bucket}/{prefix}")
        summary = delete_summary(bucket, prefix, keys, matched)
        deleted = await self._call(target, "DeleteObjects", delete_params(bucket, keys), summary=summary)
        return self._result(deleted.call, deletion(keys, matched, deleted.data.get("Errors", [])))

    # --- cp --------------------------------------------------------------------------------------

    async def _cp(self, target: ResolvedTarget, args: dict[str, Any]) -> ApiResult:
        source, destination = args.pop("source"), args.pop("destination")
        recursive = args.pop("recursive", False)
        dryrun = args.pop("dryrun", False)
        filters = args.pop("filters", [])
        guess_type = args.pop("guess_mime_type", True)
        extra = {OBJECT_OPTIONS[name]: args.pop(name) for name in list(args) if name in OBJECT_OPTIONS}
        if "metadata_directive" in args:
            extra["MetadataDirective"] = args.pop("metadata_directive")
        refuse_options("cp", args)
        copies = self._copies(target, self._relative(source), self._relative(destination), recursive, filters)
        steps, count, last = [], 0, None
        async with aclosing(copies):
            async for copy in copies:
                if not dryrun:
                    last = await self._copy(target, copy, extra, guess_type)
                count += 1
                if len(steps) < MAX_LISTED:
                    steps.append(copy.describe())
        if dryrun:
            return self._plan("CopyObject", target, steps, count)
        if last is None:
            return self._nothing(target, "ListObjectsV2", "nothing matched; no object was copied")
        result = self._result(last, {"copied": steps, "count": count})
        say_listed(result.result, "copied", count)
        return result

    async def _copies(
        self,
        target: ResolvedTarget,
        source: dict[str, str],
        destination: dict[str, str],
        recursive: bool,
        filters: list,
    ) -> AsyncIterator[Copy]:
        """Every copy the command stands for; an S3 source is listed page by page as the copies go."""
        if not recursive:
            yield await self._single_copy(source, destination)
            return
        if "path" in source:
            for copy in await self._uploads(source["path"], destination, filters):
                yield copy
            return
        prefix = folder(source["key"])
        skipped = inside_source(source, prefix, destination)
        async for key, size in self._matching(target, source["bucket"], prefix, filters):
            if not key.endswith("/") and not (skipped and key.startswith(skipped)):
                yield Copy({"bucket": source["bucket"], "key": key}, under(destination, key[len(prefix) :]), size)

    async def _single_copy(self, source: dict[str, str], destination: dict[str, str]) -> Copy:
        if "path" in source and await self.executor.in_thread(self.files.is_dir, source["path"]):
            raise InvalidInput(f"{source['path']!r} is a folder: add --recursive to copy what it holds")
        name = posixpath.basename(source.get("key") or source.get("path", "").rstrip("/"))
        into_folder = "path" in destination and await self.executor.in_thread(self._names_folder, destination["path"])
        return Copy(source, into(destination, name, into_folder))

    async def _uploads(self, folder: str, destination: dict[str, str], filters: list) -> list[Copy]:
        """The folder's files the filters keep; files they leave out are never looked at (special files too)."""
        files = await self.executor.in_thread(
            lambda: list(self.files.files_under(folder, lambda relative: included(relative, filters)))
        )
        base = folder.rstrip("/")
        return [Copy({"path": join(base, f.relative)}, under(destination, f.relative), f.size) for f in files]

    async def _copy(self, target: ResolvedTarget, copy: Copy, extra: dict[str, Any], guess_type: bool) -> AwsCall:
        """One object copied, uploaded or downloaded, as its own guarded call; the call made."""
        source, destination = copy.source, copy.destination
        if copy.kind == "upload":
            params = {"Bucket": destination["bucket"], "Key": destination["key"], **extra}
            guessed, _ = mimetypes.guess_type(source["path"])
            if guess_type and guessed and "ContentType" not in params:
                params["ContentType"] = guessed
            params["Body"] = {"$path": source["path"]}
            return (await self._call(target, "PutObject", params)).call
        if copy.kind == "copy":
            params = {
                "Bucket": destination["bucket"],
                "Key": destination["key"],
                "CopySource": {"Bucket": source["bucket"], "Key": source["key"]},
                **extra,
            }
            return (await self._call(target, "CopyObject", params)).call
        if extra:
            raise InvalidInput(f"{', '.join(sorted(extra))} apply to uploads and copies, not downloads")
        params = {"Bucket": source["bucket"], "Key": source["key"]}
        call = AwsCall(target, "s3", "GetObject", params, f"download s3://{source['bucket']}/{source['key']}")
        await self.executor.run(call, lambda client: self._download(client, params, destination["path"]))
        return call

    def _download(self, client: BaseClient, params: dict[str, str], path: str) -> int:
        body = client.get_object(**params)["Body"]
        try:
            return self.files.write(path, body.iter_chunks(64 * 1024))
        finally:
            body.close()

    # --- s3 PutObject of a folder (execute) ------------------------------------------------------

    @staticmethod
    def body_path(service: str, operation: str, payload: dict[str, Any]) -> str | None:
        """The local path an s3 PutObject payload gives as its Body, which may be a folder."""
        if (service, operation) != ("s3", "PutObject") or not isinstance(payload, dict):
            return None
        return path_reference(payload.get("Body"))

    async def put_folder(self, target: ResolvedTarget, payload: dict[str, Any], folder: str) -> ApiResult:
        """Every file of the folder as its own PutObject under the Key prefix, each through the guard."""
        files = await self.executor.in_thread(lambda: list(self.files.files_under(folder)))
        if len(files) > MAX_OBJECTS:
            raise InvalidInput(
                f"folder {folder!r} holds {len(files)} files; at most {MAX_OBJECTS} upload in one call",
                hint="upload sub-folders one at a time",
            )
        if not files:
            return self._nothing(target, "PutObject", f"folder {folder!r} holds no files; nothing was uploaded")
        model = operation_model("s3", "PutObject")
        prefix = str(payload.get("Key") or "")
        prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        uploaded = []
        base = folder.rstrip("/")
        for file in files:
            item = {**payload, "Key": prefix + file.relative, "Body": {"$path": f"{base}/{file.relative}"}}
            guessed, _ = mimetypes.guess_type(file.relative)
            if "ContentType" not in payload and guessed:
                item["ContentType"] = guessed
            last = await self.api.call(Request(target, model, item))
            uploaded.append({"key": item["Key"], "size": file.size, "etag": last.data.get("ETag")})
        result = self._result(last.call, {"bucket": payload.get("Bucket"), "uploaded": uploaded, "count": len(files)})
        say_listed(result.result, "uploaded", len(files))
        return result.model_copy(update={"local_files": [folder]})

    # --- shared ----------------------------------------------------------------------------------

    async def _pages(self, target: ResolvedTarget, params: dict[str, Any]) -> AsyncIterator[Response]:
        """Every ListObjectsV2 page, raw (before any output cap), each its own guarded call."""
        token = None
        while True:
            page = await self._call(target, "ListObjectsV2", params, Pagination(PAGE_SIZE, token))
            yield page
            token = page.next_token
            if not token:
                return

    async def _matching(
        self, target: ResolvedTarget, bucket: str, prefix: str, filters: list
    ) -> AsyncIterator[tuple[str, int]]:
        """(key, size) of every object under `prefix` that passes the filters, in key order."""
        async for page in self._pages(target, {"Bucket": bucket, "Prefix": prefix}):
            for item in page.data.get("Contents", []):
                if included(item["Key"][len(prefix) :], filters):
                    yield item["Key"], item.get("Size", 0)

    async def _call(
        self,
        target: ResolvedTarget,
        operation: str,
        params: dict[str, Any],
        pagination: Pagination | None = None,
        summary: str | None = None,
    ) -> Response:
        """One guarded call, its JSON raw: nothing here is cut to the output cap."""
        model = operation_model("s3", operation)
        return await self.api.call(Request(target, model, params, pagination, base64_blobs=False, summary=summary))

    def _result(self, last: AwsCall, shown: dict[str, Any]) -> ApiResult:
        return self._shown(last.operation, self.guard.classify(last).value, last.target, shown)

    def _plan(
        self,
        operation: str,
        target: ResolvedTarget,
        steps: list[dict[str, Any]],
        count: int,
        matched: int | None = None,
    ) -> ApiResult:
        shown: dict[str, Any] = {"dryrun": True, "would": steps, "count": count}
        if matched is not None:
            shown["matched"] = matched
            if matched > count:
                shown["more"] = (
                    f"{matched} objects matched; a run deletes the first {count} (one DeleteObjects call), "
                    "then the same command deletes the next ones"
                )
        result = self._shown(operation, "read", target, shown)
        say_listed(result.result, "would", count)
        return result

    def _nothing(self, target: ResolvedTarget, operation: str, note: str) -> ApiResult:
        return self._shown(operation, "read", target, {"note": note})

    def _shown(self, operation: str, op_class: str, target: ResolvedTarget, shown: dict[str, Any]) -> ApiResult:
        """The result as the model sees it: cut to the output cap (lists lose their tail), saying what was cut."""
        fitted, truncation = fit(shown, self.api.max_output_bytes, FIT_HINT)
        return ApiResult(
            service="s3",
            operation=operation,
            op_class=op_class,
            target=target.describe(),
            result=fitted,
            truncation=truncation,
        )

    def _names_folder(self, path: str) -> bool:
        return path.endswith("/") or path in ("", ".") or self.files.is_dir(path)

    def _relative(self, location: dict[str, str]) -> dict[str, str]:
        if "path" in location:
            return {"path": self.files.relative(location["path"])}
        return location
