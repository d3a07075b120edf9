"""LocalFiles: the only code that opens local files, and only under AWS_MCP_FILES_ROOT."""

import io
import os
import socket
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.files import LocalFileRefused, LocalFiles
from tests.helpers import release

CANARY = "canary-local-files-4d2e"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "root"
    (folder / "app" / "lib").mkdir(parents=True)
    (folder / "app" / "main.py").write_text("print(1)\n")
    (folder / "app" / "lib" / "util.py").write_text("X = 1\n")
    (tmp_path / "secret.txt").write_text(CANARY)
    return folder


@pytest.fixture
def files(root: Path) -> LocalFiles:
    return LocalFiles(root, max_bytes=1024)


def test_reads_files_by_root_relative_path(files: LocalFiles) -> None:
    assert files.read("app/main.py") == b"print(1)\n"
    assert files.read_text("./app/lib/util.py") == "X = 1\n"


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("../secret.txt", "'..'"),
        ("app/../../secret.txt", "'..'"),
        ("/etc/passwd", "outside the files root"),
        ("~/secret.txt", "~"),
        ("", "not a path"),
        ("app\x00.py", "not a path"),
        ("app", "folder"),
        ("missing.txt", "does not exist"),
    ],
)
def test_paths_outside_or_odd_are_refused_with_the_reason(files: LocalFiles, path: str, reason: str) -> None:
    with pytest.raises(LocalFileRefused, match=reason) as refused:
        files.read(path)
    assert CANARY not in str(refused.value.message)


def test_symlink_leading_out_is_refused_and_one_staying_inside_is_followed(files: LocalFiles, root: Path) -> None:
    (root / "out").symlink_to(root.parent / "secret.txt")
    (root / "inside").symlink_to(root / "app" / "main.py")
    with pytest.raises(LocalFileRefused, match="outside the files root"):
        files.read("out")
    assert files.read("inside") == b"print(1)\n"


def test_a_symlink_swapped_in_after_the_check_is_refused_at_open(files: LocalFiles, root: Path, monkeypatch) -> None:
    """The path is checked, then (as an attacker racing us would) replaced by a symlink leading out."""
    target = root / "app" / "main.py"
    checked = files.resolve("app/main.py")

    def swap_then_resolve(path: str) -> Path:
        target.unlink()
        target.symlink_to(root.parent / "secret.txt")
        return checked

    monkeypatch.setattr(files, "resolve", swap_then_resolve)
    with pytest.raises(LocalFileRefused) as refused:
        files.read("app/main.py")
    assert CANARY not in refused.value.message


def test_a_directory_swapped_for_a_symlink_after_the_check_is_refused(
    files: LocalFiles, root: Path, monkeypatch
) -> None:
    checked = files.resolve("app/lib/util.py")
    outside = root.parent / "elsewhere"
    outside.mkdir()
    (outside / "util.py").write_text(CANARY)

    def swap_then_resolve(path: str) -> Path:
        (root / "app" / "lib").rename(root / "app" / "lib-old")
        (root / "app" / "lib").symlink_to(outside)
        return checked

    monkeypatch.setattr(files, "resolve", swap_then_resolve)
    with pytest.raises(LocalFileRefused, match="outside the files root"):
        files.read("app/lib/util.py")


def test_files_over_the_limit_are_refused(files: LocalFiles, root: Path) -> None:
    (root / "big.bin").write_bytes(b"x" * 1025)
    with pytest.raises(LocalFileRefused, match="larger than the limit of 1024 bytes"):
        files.read("big.bin")


def test_no_root_means_no_local_files(root: Path) -> None:
    with pytest.raises(LocalFileRefused, match="not enabled") as refused:
        LocalFiles(None, 1024).read("app/main.py")
    assert "AWS_MCP_FILES_ROOT" in refused.value.hint


def test_folders_zip_with_modes_and_fixed_timestamps(files: LocalFiles, root: Path) -> None:
    os.chmod(root / "app" / "main.py", 0o755)
    first = files.zip_folder("app")
    assert first == files.zip_folder("app/")
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert archive.namelist() == ["main.py", "lib/util.py"]
        assert archive.getinfo("main.py").external_attr >> 16 & 0o777 == 0o755
        assert archive.read("lib/util.py") == b"X = 1\n"


def test_zipping_a_folder_skips_symlinks_that_lead_out(files: LocalFiles, root: Path) -> None:
    (root / "app" / "leak").symlink_to(root.parent / "secret.txt")
    with pytest.raises(LocalFileRefused, match="outside the files root"):
        files.zip_folder("app")


def test_writes_stay_under_the_root_and_never_through_symlinks(files: LocalFiles, root: Path) -> None:
    assert files.write("downloads/a.txt", iter([b"ab", b"c"])) == 3
    assert (root / "downloads" / "a.txt").read_text() == "abc"
    (root / "link").symlink_to(root.parent / "secret.txt")
    with pytest.raises(LocalFileRefused):
        files.write("link", iter([b"overwritten"]))
    assert (root.parent / "secret.txt").read_text() == CANARY
    with pytest.raises(LocalFileRefused, match="larger than"):
        files.write("big.bin", iter([b"x" * 1000, b"x" * 1000]))


# --- special files, hard links, absolute paths ---------------------------------------------------------


@pytest.fixture
def fifo(root: Path) -> Iterator[Path]:
    """A named pipe in the root. Teardown opens its other end, so a regression that blocks on it fails on the
    timeout and then lets the blocked thread go instead of hanging the suite."""
    pipe = root / "app" / "pipe"
    os.mkfifo(pipe)
    yield pipe
    release(pipe)


@pytest.fixture
def unix_socket(root: Path) -> Iterator[Path]:
    path = root / "app" / "sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        server.listen()
        yield path


@pytest.mark.timeout(20)
def test_a_fifo_is_refused_without_blocking(files: LocalFiles, fifo: Path) -> None:
    for read in (files.read, files.read_text):
        with pytest.raises(LocalFileRefused, match="FIFO"):
            read("app/pipe")


@pytest.mark.timeout(20)
def test_a_socket_is_refused_as_not_a_regular_file(files: LocalFiles, unix_socket: Path) -> None:
    with pytest.raises(LocalFileRefused, match="socket"):
        files.read("app/sock")


@pytest.mark.timeout(20)
def test_writing_onto_a_fifo_is_refused_without_blocking(files: LocalFiles, fifo: Path) -> None:
    with pytest.raises(LocalFileRefused, match="FIFO"):
        files.write("app/pipe", iter([b"data"]))


@pytest.mark.timeout(20)
def test_a_fifo_swapped_in_after_the_walk_is_refused_at_open(files: LocalFiles, root: Path, monkeypatch) -> None:
    checked = files.resolve("app/main.py")

    def swap_then_resolve(path: str) -> Path:
        (root / "app" / "main.py").unlink()
        os.mkfifo(root / "app" / "main.py")
        return checked

    monkeypatch.setattr(files, "resolve", swap_then_resolve)
    try:
        with pytest.raises(LocalFileRefused, match="FIFO"):
            files.read("app/main.py")
    finally:
        release(checked)


@pytest.mark.timeout(20)
def test_folder_walks_refuse_a_folder_holding_a_special_file_and_name_it(
    files: LocalFiles, fifo: Path, unix_socket: Path
) -> None:
    with pytest.raises(LocalFileRefused, match=r"'app/pipe' is a FIFO"):
        list(files.files_under("app"))
    with pytest.raises(LocalFileRefused, match=r"'app/pipe' is a FIFO"):
        files.zip_folder("app")
    with pytest.raises(LocalFileRefused, match=r"'app/sock' is a socket"):
        list(files.files_under("app", include=lambda relative: relative != "pipe"))
    kept = files.files_under("app", include=lambda relative: relative not in ("pipe", "sock"))
    assert [file.relative for file in kept] == ["main.py", "lib/util.py"]


def test_a_hard_link_is_refused_for_reading_and_writing(files: LocalFiles, root: Path) -> None:
    """A hard link cannot be told apart from its twin outside the root: reading it would leak that file, writing
    it (s3 cp downloads) would overwrite it."""
    outside = root.parent / "secret.txt"
    os.link(outside, root / "twin.txt")
    for attempt in (
        lambda: files.read("twin.txt"),
        lambda: files.write("twin.txt", iter([b"overwritten"])),
        lambda: list(files.files_under(".")),
        lambda: files.zip_folder("."),
    ):
        with pytest.raises(LocalFileRefused, match="2 hard links") as refused:
            attempt()
        assert CANARY not in refused.value.message
    assert outside.read_text() == CANARY


def test_absolute_paths_inside_the_root_are_accepted(files: LocalFiles, root: Path) -> None:
    assert files.read(str(root / "app" / "main.py")) == b"print(1)\n"
    assert files.is_dir(str(root / "app"))
    assert [file.relative for file in files.files_under(f"{root}/app/")] == ["main.py", "lib/util.py"]
    assert files.write(str(root / "out.txt"), iter([b"ok"])) == 2
    (root / "out-link").symlink_to(root.parent / "secret.txt")
    for path, reason in (
        (str(root.parent / "secret.txt"), "outside the files root"),
        (f"{root}/../secret.txt", "'..'"),
        (str(root / "out-link"), "outside the files root"),
    ):
        with pytest.raises(LocalFileRefused, match=reason):
            files.read(path)
