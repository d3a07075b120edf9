"""What the high-level s3 commands plan before they call AWS: their limits and options, the copies a `cp`
stands for, what an `ls` shows, the delete batches of an `rm`, and the paths and filters they match with.
Pure: nothing here calls AWS or opens a file (generic/s3_transfers.py runs the plans)."""

import fnmatch
import shlex
from dataclasses import dataclass, field
from typing import Any

from core.errors import CommandRefused

MAX_OBJECTS = 1_000
"""Keys one `rm --recursive` deletes (one DeleteObjects call, one confirmation); files one folder upload takes."""
LS_MAX_ITEMS = 1_000
"""Entries `ls` keeps to show (what fits the output cap is shown); --summarize counts every object."""
MAX_LISTED = 1_000
"""Steps a cp result or a dry run keeps to show; `count` covers them all."""
PAGE_SIZE = 1_000
"""Keys one ListObjectsV2 call (one guarded call) reads."""

OBJECT_OPTIONS = {
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
QUIET_OPTIONS = {"quiet", "only_show_errors", "no_progress", "progress", "page_size", "human_readable"}
"""Options about what the CLI prints or how it pages, which change nothing here."""
UNSUPPORTED = {
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
        return {"action": self.kind, "from": text(self.source), "to": text(self.destination)}


@dataclass
class Listing:
    """What `s3 ls` shows: the first LS_MAX_ITEMS entries, and counts over every object read."""

    prefixes: list[str] = field(default_factory=list)
    objects: list[dict[str, Any]] = field(default_factory=list)
    total_objects: int = 0
    total_size: int = 0
    unshown: bool = False
    """Entries were read and not kept, or pages were left unread."""

    @property
    def full(self) -> bool:
        return len(self.prefixes) + len(self.objects) >= LS_MAX_ITEMS

    def add(self, page: dict[str, Any]) -> None:
        for prefix in page.get("CommonPrefixes", []):
            self._keep(self.prefixes, prefix["Prefix"])
        for item in page.get("Contents", []):
            self.total_objects += 1
            self.total_size += item.get("Size") or 0
            entry = {"key": item["Key"], "size": item.get("Size"), "last_modified": item.get("LastModified")}
            self._keep(self.objects, entry)

    def _keep(self, entries: list[Any], entry: Any) -> None:
        if self.full:
            self.unshown = True
        else:
            entries.append(entry)


FIT_HINT = (
    "only lists were cut to fit AWS_MCP_MAX_OUTPUT_BYTES: count, matched, left and total_objects cover every object"
)


def say_listed(shown: dict[str, Any], key: str, count: int) -> None:
    """`listed`, how many entries the result shows under `key`, when that is fewer than `count`."""
    listed = len(shown.get(key, []))
    if listed < count:
        shown["listed"] = listed


def ls_continuation(
    params: dict[str, Any], objects: list[dict[str, Any]], listing: Listing, summarize: bool
) -> dict[str, Any]:
    """`listed` and `more`: how many objects the result shows, and the command that lists the ones after them."""
    command = ["s3api", "list-objects-v2", "--bucket", params["Bucket"]]
    if params["Prefix"]:
        command += ["--prefix", params["Prefix"]]
    if "Delimiter" in params:
        command += ["--delimiter", params["Delimiter"]]
    if not objects:
        return {"listed": 0, "more": f"more entries exist than fit here: narrow the prefix, or `{shlex.join(command)}`"}
    last = objects[-1]["key"]
    counted = f" of {listing.total_objects}" if summarize else ""
    command += ["--start-after", last]
    return {
        "listed": len(objects),
        "more": f"{len(objects)}{counted} objects are listed, the rest follow {last!r}: "
        f"continue with `{shlex.join(command)}`",
    }


def delete_params(bucket: str, keys: list[str]) -> dict[str, Any]:
    return {"Bucket": bucket, "Delete": {"Objects": [{"Key": key} for key in keys], "Quiet": True}}


def delete_summary(bucket: str, prefix: str, keys: list[str], matched: int) -> str:
    sample = ", ".join(keys[:3]) + (", …" if len(keys) > 3 else "")
    of = f" of {matched}" if matched > len(keys) else ""
    return f"delete {len(keys)}{of} objects under s3://{bucket}/{prefix} ({sample})"


def deletion(keys: list[str], matched: int, errors: list[dict[str, Any]]) -> dict[str, Any]:
    """What a recursive delete did: `left` counts the matches still there (not sent, or failed)."""
    failed = {error.get("Key") for error in errors}
    deleted = len([key for key in keys if key not in failed])
    shown: dict[str, Any] = {"deleted": deleted, "errors": errors, "matched": matched, "left": matched - deleted}
    if matched > len(keys):
        shown["more"] = (
            f"{matched - len(keys)} matching objects were not deleted (one DeleteObjects call takes at most "
            f"{MAX_OBJECTS:,} keys): run the same command again to delete the next ones"
        )
    return shown


def inside_source(source: dict[str, str], prefix: str, destination: dict[str, str]) -> str | None:
    """The destination prefix when it lies under the source prefix in the same bucket: the copies made there
    must not be listed, and copied again, as sources."""
    if destination.get("bucket") != source["bucket"]:
        return None
    into = folder(destination["key"])
    return into if into.startswith(prefix) else None


def refuse_options(action: str, args: dict[str, Any]) -> None:
    unsupported = sorted(name for name in args if name not in QUIET_OPTIONS)
    if unsupported:
        names = ", ".join("--" + name.replace("_", "-") for name in unsupported)
        raise CommandRefused(
            f"`s3 {action}` option {names} is not supported here",
            hint="use the s3api command (or execute) for the operation with those parameters",
        )


def included(relative: str, filters: list[dict[str, str]]) -> bool:
    """awscli's rule: every object is included unless the last filter matching it is an exclude."""
    included = True
    for rule in filters:
        if fnmatch.fnmatchcase(relative, rule["pattern"]):
            included = rule["type"] == "include"
    return included


def folder(key: str) -> str:
    return key if not key or key.endswith("/") else key + "/"


def join(base: str, relative: str) -> str:
    return relative if base in ("", ".") else f"{base}/{relative}"


def into(destination: dict[str, str], name: str, into_folder: bool) -> dict[str, str]:
    """A single object's destination: into the folder when the destination names one."""
    if "path" in destination:
        path = destination["path"]
        return {"path": join(path.rstrip("/"), name) if into_folder else path}
    key = destination["key"]
    return {**destination, "key": key + name if not key or key.endswith("/") else key}


def under(destination: dict[str, str], relative: str) -> dict[str, str]:
    if "path" in destination:
        return {"path": join(destination["path"].rstrip("/"), relative)}
    return {**destination, "key": folder(destination["key"]) + relative}


def text(location: dict[str, str]) -> str:
    return location["path"] if "path" in location else f"s3://{location['bucket']}/{location['key']}"


def tag_set(tags: Any) -> list[dict[str, str]]:
    if isinstance(tags, dict):
        return [{"Key": str(k), "Value": str(v)} for k, v in tags.items()]
    return [{"Key": str(t.get("Key")), "Value": str(t.get("Value"))} for t in tags or []]
