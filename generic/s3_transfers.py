"""The high-level `aws s3` commands (ls, cp, mb, rb, rm) as S3 API calls, each through the guard.

`catalog.cli` turns the command line into an `S3Transfer`; this module plans the API calls it
stands for and runs them one by one through `GenericApi.run`, so every object written, read or
deleted is its own guarded, audited call. Local paths are inside AWS_MCP_FILES_ROOT (checked by
the parser and again when a file is opened). A recursive delete is one DeleteObjects call of up
to 1,000 keys, so it needs one confirmation; more keys take another run of the same command.
"""

import fnmatch
import mimetypes
import posixpath
from dataclasses import dataclass
from typing import Any

from botocore.client import BaseClient

from catalog.models import operation_model
from core.calls import AwsCall, ResolvedTarget
from core.errors import CommandRefused, InvalidInput
from core.executor import AwsExecutor
from core.files import LocalFiles
from core.payload import path_reference
from generic.api import ApiResult, GenericApi, Pagination, Request
from guard.guard import Guard

MAX_OBJECTS = 1_000
"""Objects one cp or rm command handles; narrow the prefix or filters beyond that."""
LS_MAX_ITEMS = 1_000

_OBJECT_OPTIONS = {
    "acl": "ACL",
    "cache_control": "CacheControl",
    "content_disposition": "ContentDisposition",
    "content_encoding": "ContentEncoding",
    "content_language": "ContentLanguage",
    "content_type": "ContentType",
    "expires": "Expires",
    "metadata": "Metadata",
    "sse": "ServerSideEncryption",
    "sse_kms_key_id": "SSEKMSKeyId",
    "storage_class": "StorageClass",
    "website_redirect": "WebsiteRedirectLocation",
}
"""`s3 cp` options and the PutObject/CopyObject parameter each one sets."""
_QUIET_OPTIONS = {"quiet", "only_show_errors", "no_progress", "progress", "page_size", "human_readable"}
"""Options about what the CLI prints or how it pages, which change nothing here."""
_UNSUPPORTED = {
    "mv": "`s3 mv` is not supported: run `s3 cp`, then `s3 rm` for the source (it asks for confirmation).",
    "sync": "`s3 sync` is not supported: use `s3 cp --recursive` (with --exclude/--include) instead.",
}


@dataclass(frozen=True)
class Copy:
    """One object to move: `source` and `destination` are {"bucket", "key"} or {"path"} (root-relative)."""

    source: dict[str, str]
    destination: dict[str, str]
    size: int | None = None

    @property
    def kind(self) -> str:
        if "path" in self.source:
            return "upload"
        return "download" if "path" in self.destination else "copy"

    def describe(self) -> dict[str, Any]:
        return {"action": self.kind, "from": _text(self.source), "to": _text(self.destination)}


class S3Transfers:
    def __init__(self, api: GenericApi, executor: AwsExecutor, guard: Guard, files: LocalFiles) -> None:
        self.api = api
        self.executor = executor
        self.guard = guard
        self.files = files

    async def run(self, target: ResolvedTarget, action: str, args: dict[str, Any]) -> ApiResult:
        if action in _UNSUPPORTED:
            raise CommandRefused(_UNSUPPORTED[action])
        handler = {"ls": self._ls, "cp": self._cp, "mb": self._mb, "rb": self._rb, "rm": self._rm}[action]
        return await handler(target, dict(args))

    # --- ls, mb, rb ------------------------------------------------------------------------------

    async def _ls(self, target: ResolvedTarget, args: dict[str, Any]) -> ApiResult:
        location = args.pop("location")
        recursive = args.pop("recursive", False)
        summarize = args.pop("summarize", False)
        _refuse_options("ls", args)
        if location is None:
            listed = await self._call(target, "ListBuckets", {})
            buckets = [{"name": b["Name"], "created": b.get("CreationDate")} for b in listed.result.get("Buckets", [])]
            return _result(listed, {"buckets": buckets})
        params = {"Bucket": location["bucket"], "Prefix": location["key"]}
        if not recursive:
            params["Delimiter"] = "/"
        listed = await self._call(target, "ListObjectsV2", params, Pagination(LS_MAX_ITEMS))
        objects = [
            {"key": o["Key"], "size": o.get("Size"), "last_modified": o.get("LastModified")}
            for o in listed.result.get("Contents", [])
        ]
        shown: dict[str, Any] = {
            "bucket": location["bucket"],
            "prefixes": [p["Prefix"] for p in listed.result.get("CommonPrefixes", [])],
            "objects": objects,
        }
        if summarize:
            shown["total_objects"] = len(objects)
            shown["total_size"] = sum(o["size"] or 0 for o in objects)
        if listed.next_token:
            shown["more"] = f"more than {LS_MAX_ITEMS} entries: list a longer prefix, or use s3api list-objects-v2"
        return _result(listed, shown)

    async def _mb(self, target: ResolvedTarget, args: dict[str, Any]) -> ApiResult:
        bucket = args.pop("location")["bucket"]
        tags = args.pop("tags", None)
        _refuse_options("mb", args)
        params: dict[str, Any] = {"Bucket": bucket}
        if target.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": target.region}
        created = await self._call(target, "CreateBucket", params)
        if tags:
            await self._call(target, "PutBucketTagging", {"Bucket": bucket, "Tagging": {"TagSet": _tag_set(tags)}})
        return _result(created, {"created": f"s3://{bucket}", "region": target.region})

    async def _rb(self, target: ResolvedTarget, args: dict[str, Any]) -> ApiResult:
        bucket = args.pop("location")["bucket"]
        force = args.pop("force", False)
        _refuse_options("rb", args)
        if force:
            probe = await self._call(target, "ListObjectsV2", {"Bucket": bucket, "MaxKeys": 1})
            if probe.result.get("KeyCount"):
                raise CommandRefused(
                    f"s3://{bucket} is not empty; --force would delete every object in it unseen",
                    hint=f"run `s3 rm s3://{bucket} --recursive` first (one confirmed delete per 1,000 objects)",
                )
        removed = await self._call(target, "DeleteBucket", {"Bucket": bucket})
        return _result(removed, {"removed": f"s3://{bucket}"})

    # --- rm --------------------------------------------------------------------------------------

    async def _rm(self, target: ResolvedTarget, args: dict[str, Any]) -> ApiResult:
        location = args.pop("location")
        recursive = args.pop("recursive", False)
        dryrun = args.pop("dryrun", False)
        filters = args.pop("filters", [])
        _refuse_options("rm", args)
        bucket = location["bucket"]
        if not recursive:
            if dryrun:
                return _plan("DeleteObject", target, [{"action": "delete", "from": f"s3://{bucket}/{location['key']}"}])
            deleted = await self._call(target, "DeleteObject", {"Bucket": bucket, "Key": location["key"]})
            return _result(deleted, {"deleted": [f"s3://{bucket}/{location['key']}"]})
        prefix = _folder(location["key"])
        listing, more = await self._list_keys(target, bucket, prefix, filters)
        if dryrun:
            steps = [{"action": "delete", "from": f"s3://{bucket}/{key}"} for key, _ in listing]
            return _plan("DeleteObjects", target, steps, more)
        if not listing:
            return await self._nothing(target, "DeleteObjects", f"no objects under s3://{bucket}/{prefix}")
        keys = [key for key, _ in listing]
        sample = ", ".join(keys[:3]) + (", …" if len(keys) > 3 else "")
        summary = f"delete {len(keys)} objects under s3://{bucket}/{prefix} ({sample})"
        params = {"Bucket": bucket, "Delete": {"Objects": [{"Key": key} for key in keys], "Quiet": True}}
        deleted = await self._call(target, "DeleteObjects", params, summary=summary)
        errors = deleted.result.get("Errors", [])
        failed = {error.get("Key") for error in errors}
        shown: dict[str, Any] = {"deleted": len([k for k in keys if k not in failed]), "errors": errors}
        if more:
            shown["more"] = (
                f"more than {MAX_OBJECTS} objects matched: run the same command again to delete the next ones"
            )
        return _result(deleted, shown)

    # --- cp --------------------------------------------------------------------------------------

    async def _cp(self, target: ResolvedTarget, args: dict[str, Any]) -> ApiResult:
        source, destination = args.pop("source"), args.pop("destination")
        recursive = args.pop("recursive", False)
        dryrun = args.pop("dryrun", False)
        filters = args.pop("filters", [])
        guess_type = args.pop("guess_mime_type", True)
        extra = {_OBJECT_OPTIONS[name]: args.pop(name) for name in list(args) if name in _OBJECT_OPTIONS}
        if "metadata_directive" in args:
            extra["MetadataDirective"] = args.pop("metadata_directive")
        _refuse_options("cp", args)
        source = self._relative(source)
        destination = self._relative(destination)
        copies, more = await self._plan_copies(target, source, destination, recursive, filters)
        if dryrun:
            return _plan("CopyObject", target, [copy.describe() for copy in copies], more)
        if not copies:
            return await self._nothing(target, "ListObjectsV2", "nothing matched; no object was copied")
        done, last = [], None
        for copy in copies:
            last = await self._copy(target, copy, extra, guess_type)
            done.append(copy.describe())
        shown: dict[str, Any] = {"copied": done, "count": len(done)}
        if more:
            shown["more"] = f"only the first {MAX_OBJECTS} matches were copied: narrow with --exclude/--include"
        assert last is not None
        return _result(last, shown)

    async def _plan_copies(
        self,
        target: ResolvedTarget,
        source: dict[str, str],
        destination: dict[str, str],
        recursive: bool,
        filters: list,
    ) -> tuple[list[Copy], bool]:
        if not recursive:
            if "path" in source and await self.executor.in_thread(self.files.is_dir, source["path"]):
                raise InvalidInput(f"{source['path']!r} is a folder: add --recursive to copy what it holds")
            name = posixpath.basename(source.get("key") or source.get("path", "").rstrip("/"))
            into_folder = "path" in destination and await self.executor.in_thread(
                self._names_folder, destination["path"]
            )
            return [Copy(source, _into(destination, name, into_folder))], False
        if "path" in source:
            files = await self.executor.in_thread(lambda: list(self.files.files_under(source["path"])))
            chosen = [file for file in files if _included(file.relative, filters)]
            base = source["path"].rstrip("/")
            copies = [
                Copy({"path": _join(base, file.relative)}, _under(destination, file.relative), file.size)
                for file in chosen[:MAX_OBJECTS]
            ]
            return copies, len(chosen) > MAX_OBJECTS
        prefix = _folder(source["key"])
        listing, more = await self._list_keys(target, source["bucket"], prefix, filters)
        copies = [
            Copy({"bucket": source["bucket"], "key": key}, _under(destination, key[len(prefix) :]), size)
            for key, size in listing
            if not key.endswith("/")
        ]
        return copies, more

    async def _copy(self, target: ResolvedTarget, copy: Copy, extra: dict[str, Any], guess_type: bool) -> ApiResult:
        source, destination = copy.source, copy.destination
        if copy.kind == "upload":
            params = {"Bucket": destination["bucket"], "Key": destination["key"], **extra}
            guessed, _ = mimetypes.guess_type(source["path"])
            if guess_type and guessed and "ContentType" not in params:
                params["ContentType"] = guessed
            params["Body"] = {"$path": source["path"]}
            return await self._call(target, "PutObject", params)
        if copy.kind == "copy":
            params = {
                "Bucket": destination["bucket"],
                "Key": destination["key"],
                "CopySource": {"Bucket": source["bucket"], "Key": source["key"]},
                **extra,
            }
            return await self._call(target, "CopyObject", params)
        if extra:
            raise InvalidInput(f"{', '.join(sorted(extra))} apply to uploads and copies, not downloads")
        params = {"Bucket": source["bucket"], "Key": source["key"]}
        call = AwsCall(target, "s3", "GetObject", params, f"download s3://{source['bucket']}/{source['key']}")
        size = await self.executor.run(call, lambda client: self._download(client, params, destination["path"]))
        return ApiResult(
            service="s3",
            operation="GetObject",
            op_class=self.guard.classify(call).value,
            target=target.describe(),
            result={"written": destination["path"], "size": size},
        )

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
        model = operation_model("s3", "PutObject")
        prefix = str(payload.get("Key") or "")
        prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        uploaded = []
        base = folder.rstrip("/")
        last = None
        for file in files:
            item = {**payload, "Key": prefix + file.relative, "Body": {"$path": f"{base}/{file.relative}"}}
            guessed, _ = mimetypes.guess_type(file.relative)
            if "ContentType" not in payload and guessed:
                item["ContentType"] = guessed
            last = await self.api.call(Request(target, model, item))
            uploaded.append({"key": item["Key"], "size": file.size, "etag": last.data.get("ETag")})
        return ApiResult(
            service="s3",
            operation="PutObject",
            op_class=self.guard.classify(last.call).value if last else "write",
            target=target.describe(),
            result={"bucket": payload.get("Bucket"), "uploaded": uploaded, "count": len(uploaded)},
            local_files=[folder],
        )

    # --- shared ----------------------------------------------------------------------------------

    async def _list_keys(
        self, target: ResolvedTarget, bucket: str, prefix: str, filters: list
    ) -> tuple[list[tuple[str, int]], bool]:
        """Keys under `prefix` that pass the filters, up to MAX_OBJECTS, and whether more matched."""
        chosen: list[tuple[str, int]] = []
        token = None
        while True:
            listed = await self._call(
                target, "ListObjectsV2", {"Bucket": bucket, "Prefix": prefix}, Pagination(MAX_OBJECTS, token)
            )
            for item in listed.result.get("Contents", []):
                if _included(item["Key"][len(prefix) :], filters):
                    chosen.append((item["Key"], item.get("Size", 0)))
            token = listed.next_token
            if len(chosen) > MAX_OBJECTS or not token:
                return chosen[:MAX_OBJECTS], len(chosen) > MAX_OBJECTS

    async def _call(
        self,
        target: ResolvedTarget,
        operation: str,
        params: dict[str, Any],
        pagination: Pagination | None = None,
        summary: str | None = None,
    ) -> ApiResult:
        model = operation_model("s3", operation)
        return await self.api.run(Request(target, model, params, pagination, base64_blobs=False, summary=summary))

    async def _nothing(self, target: ResolvedTarget, operation: str, note: str) -> ApiResult:
        return ApiResult(
            service="s3", operation=operation, op_class="read", target=target.describe(), result={"note": note}
        )

    def _names_folder(self, path: str) -> bool:
        return path.endswith("/") or path in ("", ".") or self.files.is_dir(path)

    def _relative(self, location: dict[str, str]) -> dict[str, str]:
        if "path" in location:
            return {"path": self.files.relative(location["path"])}
        return location


def _result(last: ApiResult, shown: dict[str, Any]) -> ApiResult:
    return last.model_copy(update={"result": shown, "next_token": None})


def _plan(operation: str, target: ResolvedTarget, steps: list[dict[str, Any]], more: bool = False) -> ApiResult:
    shown: dict[str, Any] = {"dryrun": True, "would": steps, "count": len(steps)}
    if more:
        shown["more"] = f"more than {MAX_OBJECTS} objects matched; a run handles the first {MAX_OBJECTS}"
    return ApiResult(service="s3", operation=operation, op_class="read", target=target.describe(), result=shown)


def _refuse_options(action: str, args: dict[str, Any]) -> None:
    unsupported = sorted(name for name in args if name not in _QUIET_OPTIONS)
    if unsupported:
        names = ", ".join("--" + name.replace("_", "-") for name in unsupported)
        raise CommandRefused(
            f"`s3 {action}` option {names} is not supported here",
            hint="use the s3api command (or execute) for the operation with those parameters",
        )


def _included(relative: str, filters: list[dict[str, str]]) -> bool:
    """awscli's rule: every object is included unless the last filter matching it is an exclude."""
    included = True
    for rule in filters:
        if fnmatch.fnmatchcase(relative, rule["pattern"]):
            included = rule["type"] == "include"
    return included


def _folder(key: str) -> str:
    return key if not key or key.endswith("/") else key + "/"


def _join(base: str, relative: str) -> str:
    return relative if base in ("", ".") else f"{base}/{relative}"


def _into(destination: dict[str, str], name: str, into_folder: bool) -> dict[str, str]:
    """A single object's destination: into the folder when the destination names one."""
    if "path" in destination:
        path = destination["path"]
        return {"path": _join(path.rstrip("/"), name) if into_folder else path}
    key = destination["key"]
    return {**destination, "key": key + name if not key or key.endswith("/") else key}


def _under(destination: dict[str, str], relative: str) -> dict[str, str]:
    if "path" in destination:
        return {"path": _join(destination["path"].rstrip("/"), relative)}
    return {**destination, "key": _folder(destination["key"]) + relative}


def _text(location: dict[str, str]) -> str:
    return location["path"] if "path" in location else f"s3://{location['bucket']}/{location['key']}"


def _tag_set(tags: Any) -> list[dict[str, str]]:
    if isinstance(tags, dict):
        return [{"Key": str(k), "Value": str(v)} for k, v in tags.items()]
    return [{"Key": str(t.get("Key")), "Value": str(t.get("Value"))} for t in tags or []]
