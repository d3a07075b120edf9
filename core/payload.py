"""A JSON payload turned into botocore parameters, following the operation's input shape.

JSON cannot carry bytes, so blob members arrive as base64 text (as `get_operation_schema`
documents) or as `{"$path": "<file under AWS_MCP_FILES_ROOT>"}`; string members may also be
given as `{"$path": ...}` (the file's UTF-8 text). A folder given for a `ZipFile` member (Lambda
code and layers) becomes a zip of it. Everything else is left for botocore's own validation,
which names the offending field.
"""

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

from botocore.model import Shape

from core.errors import InvalidInput
from core.files import LocalFiles

PATH_KEY = "$path"
ZIP_MEMBERS = frozenset({"ZipFile"})
"""Blob members that take a zip archive, for which a folder is zipped."""


@dataclass
class Prepared:
    params: dict[str, Any]
    files: list[str] = field(default_factory=list)
    """The local files (relative to the root) the parameters were read from."""


def path_reference(value: Any) -> str | None:
    """The path of a `{"$path": ...}` value, or None for any other value."""
    if isinstance(value, dict) and PATH_KEY in value:
        path = value[PATH_KEY]
        if len(value) != 1 or not isinstance(path, str):
            raise InvalidInput('a {"$path": ...} value takes exactly one string: the path of a local file')
        return path
    return None


def prepare(shape: Shape | None, payload: dict[str, Any], files: LocalFiles, *, base64_blobs: bool = True) -> Prepared:
    """botocore parameters for `payload`; `base64_blobs=False` when blobs already hold raw text or bytes
    (what the AWS CLI parser produces)."""
    if not isinstance(payload, dict):
        raise InvalidInput("payload must be a JSON object of the operation's parameters")
    prepared = Prepared(params={})
    converter = _Converter(files, base64_blobs, prepared.files)
    prepared.params = converter.convert(shape, payload, "") if shape is not None else dict(payload)
    return prepared


@dataclass
class _Converter:
    files: LocalFiles
    base64_blobs: bool
    read: list[str]

    def convert(self, shape: Shape | None, value: Any, where: str) -> Any:
        if shape is None:
            return value
        path = path_reference(value)
        if path is not None:
            return self._from_file(shape, path, where)
        kind = shape.type_name
        if kind == "structure" and isinstance(value, dict):
            members = shape.members
            return {
                key: self.convert(members.get(key), item, f"{where}.{key}" if where else key)
                for key, item in value.items()
            }
        if kind == "list" and isinstance(value, list):
            return [self.convert(shape.member, item, f"{where}[{index}]") for index, item in enumerate(value)]
        if kind == "map" and isinstance(value, dict):
            return {key: self.convert(shape.value, item, f"{where}.{key}") for key, item in value.items()}
        if kind == "blob" and isinstance(value, str) and self.base64_blobs:
            return _base64(value, where)
        return value

    def _from_file(self, shape: Shape, path: str, where: str) -> Any:
        kind = shape.type_name
        if kind not in ("blob", "string"):
            raise InvalidInput(f'{where}: {{"$path": ...}} is accepted only for blob and text members, not {kind}')
        self.read.append(path)
        if kind == "string":
            return self.files.read_text(path)
        if self.files.is_dir(path):
            if shape.name in ZIP_MEMBERS or where.rsplit(".", 1)[-1] in ZIP_MEMBERS:
                return self.files.zip_folder(path)
            raise InvalidInput(f"{where}: {path!r} is a folder; this member takes one file")
        return self.files.read(path)


def _base64(text: str, where: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(
            f"{where}: blob members take base64 text, and this is not valid base64",
            hint='encode the bytes as base64, or pass {"$path": "<file under the files root>"}',
        ) from None
