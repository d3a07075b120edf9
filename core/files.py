"""Local files under AWS_MCP_FILES_ROOT: the only place a `{"$path": ...}` value may come from.

Paths are relative to the root, or absolute and inside it. Refused: any path when no root is
configured, `..` components, `~`, and anything whose real location (symlinks followed) lies
outside the root. The check is repeated on the open file descriptor (`/proc/self/fd`), so a
symlink swapped in between the check and the open cannot lead out. Messages quote the path as
typed, never file content.

Only regular files and folders are used. FIFOs, sockets and devices are refused by name before
they are opened, and again on the open descriptor (`fstat`), which is opened non-blocking: a
FIFO can never hold a worker thread. A folder walk (`files_under`, so folder uploads and zips)
that meets one refuses the whole folder, naming it, rather than skip it unseen; `s3 cp
--exclude` can leave it out. Regular files with more than one hard link are refused too, for
reading and writing alike: a hard link cannot be told apart from its twin outside the root.
"""

import contextlib
import io
import os
import stat
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from core.errors import LocalFileRefused

_PROC_FD = Path("/proc/self/fd")
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_OPEN_FLAGS = os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_SPECIAL_KINDS = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


@dataclass(frozen=True)
class LocalFile:
    """A regular file under the root: `relative` as the caller would name it, `path` resolved."""

    relative: str
    path: Path
    size: int
    mode: int


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
        if ".." in PurePosixPath(path).parts or ".." in Path(path).parts:
            raise LocalFileRefused(f"local file {path!r}: '..' is not accepted")
        absolute = os.path.isabs(path)
        resolved = (Path(path) if absolute else self.root / path).resolve()
        if not resolved.is_relative_to(self.root):
            how = "is outside the files root" if absolute else "leads outside the files root (through a symlink)"
            raise LocalFileRefused(f"local file {path!r} {how}")
        return resolved

    def relative(self, absolute: str) -> str:
        """The root-relative form of an absolute path that catalog.cli already placed under the root."""
        assert self.root is not None
        return str(Path(absolute).relative_to(self.root)) + ("/" if absolute.endswith(os.sep) else "")

    def is_dir(self, path: str) -> bool:
        return self.resolve(path).is_dir()

    def read(self, path: str) -> bytes:
        fd, info = self._open(path, self.resolve(path), os.O_RDONLY)
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

    def files_under(self, path: str, include: Callable[[str], bool] = lambda relative: True) -> Iterator[LocalFile]:
        """Every regular file below the folder `path` that `include` keeps (given its folder-relative name),
        sorted; symlinks are followed only within the root. A special or hard-linked file refuses the walk."""
        folder = self.resolve(path)
        if not folder.is_dir():
            raise LocalFileRefused(f"local path {path!r} is not a folder")
        for directory, subdirectories, names in os.walk(folder):
            subdirectories.sort()
            for name in sorted(names):
                inside = Path(directory, name).relative_to(folder).as_posix()
                if include(inside):
                    file = self._walked(_join(path, inside), inside)
                    if file is not None:
                        yield file

    def zip_folder(self, path: str) -> bytes:
        """The folder as a zip (Lambda deployment packages), file modes kept, timestamps fixed."""
        buffer = io.BytesIO()
        total = 0
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for file in self.files_under(path):
                total += file.size
                self._check_size(path, total)
                info = zipfile.ZipInfo(file.relative, date_time=_ZIP_EPOCH)
                info.external_attr = (file.mode & 0o777 | stat.S_IFREG) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, self.read(_join(path, file.relative)))
        data = buffer.getvalue()
        self._check_size(path, len(data))
        return data

    def write(self, path: str, chunks: Iterator[bytes]) -> int:
        """Write a new or replaced file under the root; never through a symlink or onto a special or hard-linked
        file (it is truncated only once it has passed those checks). Returns the size."""
        resolved = self.resolve(path)
        resolved.parent.mkdir(parents=True, exist_ok=True)
        fd, _ = self._open(path, resolved, os.O_WRONLY | os.O_CREAT)
        written = 0
        with os.fdopen(fd, "wb") as handle:
            handle.truncate(0)
            for chunk in chunks:
                written += len(chunk)
                self._check_size(path, written)
                handle.write(chunk)
        return written

    def _walked(self, relative: str, inside: str) -> LocalFile | None:
        """The walk's entry `relative` as a LocalFile; None when it vanished (or is a dangling symlink)."""
        resolved = self.resolve(relative)
        try:
            info = os.stat(resolved)
        except FileNotFoundError:
            return None
        self._check_regular(relative, info)
        return LocalFile(inside, resolved, info.st_size, info.st_mode)

    def _open(self, path: str, resolved: Path, flags: int) -> tuple[int, os.stat_result]:
        """A descriptor on the regular file `resolved`, opened non-blocking (a FIFO cannot hang it), with its
        fstat; the checks run on the path first, for a clear message, and again on the descriptor."""
        with contextlib.suppress(FileNotFoundError):
            self._check_regular(path, os.stat(resolved))
        try:
            fd = os.open(resolved, flags | _OPEN_FLAGS, 0o644)
        except FileNotFoundError:
            raise LocalFileRefused(f"local file {path!r} does not exist under the files root") from None
        except OSError as error:
            raise LocalFileRefused(f"local file {path!r} cannot be opened: {error.strerror}") from None
        try:
            self._check_inside(path, fd)
            info = os.fstat(fd)
            self._check_regular(path, info)
        except LocalFileRefused:
            os.close(fd)
            raise
        return fd, info

    def _check_inside(self, path: str, fd: int) -> None:
        opened = self._real_path(fd)
        if opened is not None and self.root is not None and not opened.is_relative_to(self.root):
            raise LocalFileRefused(f"local file {path!r} leads outside the files root (through a symlink)")

    @staticmethod
    def _check_regular(path: str, info: os.stat_result) -> None:
        if stat.S_ISDIR(info.st_mode):
            raise LocalFileRefused(f"local path {path!r} is a folder, not a file")
        if not stat.S_ISREG(info.st_mode):
            kind = _SPECIAL_KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
            raise LocalFileRefused(
                f"local path {path!r} is {kind}: only regular files and folders are used",
                hint="copy the content into a regular file; in a folder, move it out or leave it out (s3 cp --exclude)",
            )
        if info.st_nlink > 1:
            raise LocalFileRefused(
                f"local file {path!r} has {info.st_nlink} hard links: it cannot be told apart from a file outside "
                "the files root",
                hint="put a copy of the file under the files root (cp, not ln)",
            )

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


def _join(folder: str, relative: str) -> str:
    """`relative` inside the folder as the caller named it (root-relative or absolute)."""
    base = folder.rstrip("/")
    return f"{base}/{relative}" if base not in ("", ".") else relative
