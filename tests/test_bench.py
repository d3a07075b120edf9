"""`make bench` measures; this only makes sure its parts still start: the processes it runs are the server,
moto and the bare SDK floor, each on loopback, each stopped at the end."""

import os

from bench import processes
from tests.conftest import ACCESS_KEY, SECRET_KEY


def test_the_bench_processes_start_answer_and_stop(tmp_path, moto_endpoint):
    environment = {
        **processes.base_environment(tmp_path),
        "PYTHONPATH": str(processes.ROOT),
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_MCP_AUDIT_LOG": os.devnull,
        "AWS_MCP_CACHE_DIR": str(tmp_path / "cache"),
    }
    for start in (processes.floor, processes.ops_server):
        with start(environment, tmp_path) as child:  # it returns once the process answers HTTP
            assert child.process.poll() is None and child.rss_mb() > 0
        assert child.process.poll() is not None
