"""Local files under AWS_MCP_FILES_ROOT: the only place a `{"$path": ...}` value may come from.

Paths are given relative to the root. Refused: any path when no root is configured, absolute
paths, `..` components, `~`, and anything whose real location (symlinks followed) lies outside
the root. The check is repeated on the open file descriptor (`/proc/self/fd`), so a symlink
swapped in between the check and the open cannot lead out. Messages quote the path as typed,
never file content.
"""

import io
import os
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from core.errors import LocalFileRefused

_PROC_FD = Path("/proc/self/fd")
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class LocalFile:
    """A regular file under the root: `relative` as the caller would name it, `path` resolved."""

    relative: str
    path: Path
    size: int


class LocalFiles:
    def __init__(self, root: Path | None, max_bytes: int) -> None:
        self.root = root.resolve() if root is not None else None
        self.max_bytes = max_bytes

    @property
    def enabled(self) -> bool:
        return self.root is not None

    def resolve(self, path: str) -> Path:
        """The real path `path` names under the root, or LocalFileRefused saying why not."""
        if self.root is None:
            raise LocalFileRefused(
                f"local file {path!r}: local file access is not enabled on this server",
                hint="an operator can set AWS_MCP_FILES_ROOT to a directory; until then pass content inline",
            )
        if not isinstance(path, str) or not path.strip() or "\x00" in path:
            raise LocalFileRefused(f"local file {path!r}: not a path")
        if path.startswith("~"):
            raise LocalFileRefused(f"local file {path!r}: ~ is not expanded")
        if os.path.isabs(path) or PurePosixPath(path).is_absolute():
            raise LocalFileRefused(f"local file {path!r}: absolute paths are not accepted")
        if ".." in PurePosixPath(path).parts or ".." in Path(path).parts:
            raise LocalFileRefused(f"local file {path!r}: '..' is not accepted")
        resolved = (self.root / path).resolve()
        if not resolved.is_relative_to(self.root):
            raise LocalFileRefused(f"local file {path!r} leads outside the files root (through a symlink)")
        return resolved

    def relative(self, absolute: str) -> str:
        """The root-relative form of an absolute path that catalog.cli already placed under the root."""
        assert self.root is not None
        return str(Path(absolute).relative_to(self.root)) + ("/" if absolute.endswith(os.sep) else "")

    def is_dir(self, path: str) -> bool:
        return self.resolve(path).is_dir()

    def read(self, path: str) -> bytes:
        resolved = self.resolve(path)
        fd = self._open(path, resolved, os.O_RDONLY)
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            raise LocalFileRefused(f"local path {path!r} is {kind}, not a file")
        with os.fdopen(fd, "rb") as handle:
            self._check_size(path, info.st_size)
            data = handle.read(self.max_bytes + 1)
        self._check_size(path, len(data))
        return data

    def read_text(self, path: str) -> str:
        try:
            return self.read(path).decode("utf-8")
        except UnicodeDecodeError:
            raise LocalFileRefused(
                f"local file {path!r} is not UTF-8 text", hint="this member takes text; binary files fit blob members"
            ) from None

    def files_under(self, path: str) -> Iterator[LocalFile]:
        """Every regular file below the folder `path`, sorted; symlinks are followed only within the root."""
        folder = self.resolve(path)
        if not folder.is_dir():
            raise LocalFileRefused(f"local path {path!r} is not a folder")
        base = path.rstrip("/")
        for directory, subdirectories, names in os.walk(folder):
            subdirectories.sort()
            for name in sorted(names):
                inside = Path(directory, name).relative_to(folder).as_posix()
                relative = f"{base}/{inside}" if base not in ("", ".") else inside
                resolved = self.resolve(relative)
                if resolved.is_file():
                    yield LocalFile(inside, resolved, resolved.stat().st_size)

    def zip_folder(self, path: str) -> bytes:
        """The folder as a zip (Lambda deployment packages), file modes kept, timestamps fixed."""
        buffer = io.BytesIO()
        total = 0
        base = path.rstrip("/")
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for file in self.files_under(path):
                total += file.size
                self._check_size(path, total)
                info = zipfile.ZipInfo(file.relative, date_time=_ZIP_EPOCH)
                info.external_attr = (file.path.stat().st_mode & 0o777 | stat.S_IFREG) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, self.read(f"{base}/{file.relative}" if base not in ("", ".") else file.relative))
        data = buffer.getvalue()
        self._check_size(path, len(data))
        return data

    def write(self, path: str, chunks: Iterator[bytes]) -> int:
        """Write a new or replaced file under the root; never through a symlink. Returns the size."""
        resolved = self.resolve(path)
        resolved.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        fd = self._open(path, resolved, flags)
        written = 0
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                written += len(chunk)
                self._check_size(path, written)
                handle.write(chunk)
        return written

    def _open(self, path: str, resolved: Path, flags: int) -> int:
        try:
            fd = os.open(resolved, flags | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o644)
        except FileNotFoundError:
            raise LocalFileRefused(f"local file {path!r} does not exist under the files root") from None
        except IsADirectoryError:
            raise LocalFileRefused(f"local path {path!r} is a folder, not a file") from None
        except OSError as error:
            raise LocalFileRefused(f"local file {path!r} cannot be opened: {error.strerror}") from None
        opened = self._real_path(fd)
        if opened is not None and self.root is not None and not opened.is_relative_to(self.root):
            os.close(fd)
            raise LocalFileRefused(f"local file {path!r} leads outside the files root (through a symlink)")
        return fd

    @staticmethod
    def _real_path(fd: int) -> Path | None:
        try:
            return Path(os.readlink(_PROC_FD / str(fd)))
        except OSError:
            return None

    def _check_size(self, path: str, size: int) -> None:
        if size > self.max_bytes:
            raise LocalFileRefused(
                f"local path {path!r} is larger than the limit of {self.max_bytes} bytes",
                hint="an operator can raise AWS_MCP_MAX_FILE_BYTES",
            )
