"""Child processes on loopback: started, waited for until they answer HTTP, always stopped."""

import ctypes
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from sandbox import free_port

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 120.0
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Child:
    process: subprocess.Popen[bytes]
    url: str

    def rss_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        kilobytes = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))
        return int(kilobytes) / 1024


def base_environment(home: Path) -> dict[str, str]:
    """No inherited AWS settings, a HOME without ~/.aws or a user cache, and the project importable."""
    return {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "PYTHONPATH": str(ROOT)}


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM if the bench dies without reaching its `finally`."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _wait_until_answering(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}:\n{log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=1.0).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{process.args} did not answer on {url} within {START_TIMEOUT:.0f} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        _reap(process)


def _reap(process: subprocess.Popen[bytes]) -> None:
    """Wait for a signalled process (it drains: no call is in flight, so it exits at once); kill it after 10 s."""
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _start(name: str, args: list[str], environment: dict[str, str], workdir: Path) -> tuple[Child, Path]:
    port = free_port()
    log = workdir / f"{name}-{port}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, *args, str(port)],
            cwd=workdir,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
    return Child(process, f"http://127.0.0.1:{port}"), log


def children(
    name: str, args: list[str], environment: dict[str, str], workdir: Path, count: int
) -> AbstractContextManager[list[Child]]:
    """`count` processes of `python <args> PORT`, started together (so they race through start-up, as replicas
    of one deployment do), each on its own port; output to `<name>-PORT.log` in `workdir`."""
    return started_together(name, args, [environment] * count, workdir)


@contextmanager
def started_together(
    name: str, args: list[str], environments: list[dict[str, str]], workdir: Path
) -> Iterator[list[Child]]:
    """A process of `python <args> PORT` per environment, started together, each on its own port."""
    started: list[tuple[Child, Path]] = []
    try:
        for environment in environments:
            started.append(_start(name, args, environment, workdir))
        for running, log in started:
            _wait_until_answering(running.process, running.url, log)
        yield [running for running, _ in started]
    finally:
        for running, _ in started:  # all signalled first: their drains overlap
            if running.process.poll() is None:
                running.process.terminate()
        for running, _ in started:
            _reap(running.process)


@contextmanager
def child(name: str, args: list[str], environment: dict[str, str], workdir: Path) -> Iterator[Child]:
    """Run `python <args> PORT` (PORT is appended) in `workdir`; its output goes to `<name>-PORT.log` there."""
    with children(name, args, environment, workdir, 1) as (running,):
        yield running


def moto(environment: dict[str, str], workdir: Path) -> AbstractContextManager[Child]:
    return child("moto", ["-m", "bench.backends", "moto"], environment, workdir)


def floor(environment: dict[str, str], workdir: Path) -> AbstractContextManager[Child]:
    return child("floor", ["-m", "bench.backends", "floor"], environment, workdir)


def ops_server(environment: dict[str, str], workdir: Path) -> AbstractContextManager[Child]:
    return child("server", [str(ROOT / "server.py"), "--port"], environment, workdir)


def ops_servers(environments: list[dict[str, str]], workdir: Path) -> AbstractContextManager[list[Child]]:
    """A server per environment, started together: servers that share nothing unless their environments do."""
    return started_together("server", [str(ROOT / "server.py"), "--port"], environments, workdir)


def replicas(environment: dict[str, str], workdir: Path, count: int) -> AbstractContextManager[list[Child]]:
    """`count` servers with one environment: replicas when it names a shared AWS_MCP_DATABASE_URL."""
    return children("replica", [str(ROOT / "server.py"), "--port"], environment, workdir, count)
