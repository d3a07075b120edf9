"""`make bench` measures; this only makes sure its parts still start: the processes it runs are the server,
moto and the bare SDK floor, each on loopback, and replicas sharing one PostgreSQL, each stopped at the end; the
fleet bench's latency proxy delays and replays; the integrations bench's receivers verify, or never answer."""

import base64
import json
import os
import socket
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import pytest
from standardwebhooks import Webhook

from bench import integrations as bench_integrations
from bench import processes, team
from bench.aws_latency import latent_aws
from tests.conftest import ACCESS_KEY, SECRET_KEY


def bench_environment(tmp_path: Path, moto_endpoint: str) -> dict[str, str]:
    return {
        **processes.base_environment(tmp_path),
        "PYTHONPATH": str(processes.ROOT),
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_MCP_AUDIT_LOG": os.devnull,
        "AWS_MCP_CACHE_DIR": str(tmp_path / "cache"),
    }


def test_the_bench_processes_start_answer_and_stop(tmp_path, moto_endpoint):
    environment = bench_environment(tmp_path, moto_endpoint)
    for start in (processes.floor, processes.ops_server):
        with start(environment, tmp_path) as child:  # it returns once the process answers HTTP
            assert child.process.poll() is None and child.rss_mb() > 0
        assert child.process.poll() is not None


def test_the_bench_replicas_start_together_on_one_database_accept_its_tokens_and_stop(
    tmp_path, moto_endpoint, postgres
):
    issuer = team.Issuer()
    environment = {
        **bench_environment(tmp_path, moto_endpoint),
        **issuer.settings(),
        "AWS_MCP_DATABASE_URL": postgres.fresh_database("bench_replicas"),
    }
    with processes.replicas(environment, tmp_path, 3) as replicas:
        assert len({replica.url for replica in replicas}) == 3
        for replica in replicas:
            request = urllib.request.Request(f"{replica.url}/metrics", headers=team.bearer(issuer.token("a", "admin")))
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 200 and b"aws_mcp_tool_calls_total" in response.read()
    assert all(replica.process.poll() is not None for replica in replicas)


def test_the_fleet_bench_proxy_delays_every_request_and_replays_the_read_it_names(moto_endpoint):
    upstream = urlsplit(moto_endpoint)
    with latent_aws((upstream.hostname, upstream.port), 0.05, 0.02, "DescribeVpcs") as (endpoint, aws):
        ec2 = boto3.client(
            "ec2",
            region_name="us-east-1",
            endpoint_url=endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )
        first = ec2.describe_vpcs()["Vpcs"]
        started = time.perf_counter()
        replayed = ec2.describe_vpcs()["Vpcs"]
        spent = time.perf_counter() - started
        ec2.describe_regions()
    assert first and replayed == first
    assert (aws.forwarded, aws.replays) == (2, 1)
    assert len(aws.injected) == 3 and all(0.03 <= held <= 0.07 for held in aws.injected)
    assert spent >= 0.03 and 0.03 <= aws.mean_delay() <= 0.07


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_the_integrations_bench_receiver_keeps_verified_events_once_and_refuses_forgeries():
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    body = json.dumps({"type": "aws.write", "data": {"time": "2026-01-01T00:00:00.000+00:00"}})
    with bench_integrations.receiving() as receiver:
        receiver.secret = secret
        stamp = datetime.now(UTC)
        headers = {
            "webhook-id": "evt_1",
            "webhook-timestamp": str(int(stamp.timestamp())),
            "webhook-signature": Webhook(secret).sign("evt_1", stamp, body),
        }
        before = time.time()
        assert post(receiver.url, body.encode(), headers) == 204
        assert post(receiver.url, body.encode(), headers) == 204  # a retry: same webhook-id
        forged = {**headers, "webhook-id": "evt_2"}  # signed for evt_1
        assert post(receiver.url, body.encode(), forged) == 401
        assert post(receiver.url, b'{"tampered": true}', headers) == 401
    assert (receiver.requests, receiver.verified, receiver.refused) == (4, 2, 2)
    (arrival,) = receiver.arrivals
    assert arrival.event["type"] == "aws.write" and before <= arrival.at <= time.time()
    assert bench_integrations.audit_time(arrival.event) == datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    assert receiver.wait_for(2, 0.05) is None


def test_the_integrations_bench_dead_receivers_never_answer_and_the_black_hole_never_connects():
    with bench_integrations.silent_receiver() as silent, bench_integrations.black_hole() as dropped:
        for url in (silent.url, dropped):
            with pytest.raises(TimeoutError):
                urllib.request.urlopen(urllib.request.Request(url, data=b"{}", method="POST"), timeout=0.3)
        assert len(silent.held) == 1
        address = urlsplit(dropped)
        with pytest.raises(TimeoutError):  # its backlog of one is taken: the connection attempt itself hangs
            socket.create_connection((address.hostname, address.port), timeout=0.3)
