"""`--sandbox`: moto in-process on loopback, demo data in two accounts, aliases pointing at them.

A new user can try every tool with no AWS account. The test suite starts moto the same way.
"""

import os
import socket
import sys
from dataclasses import dataclass

import botocore.session
from moto.server import ThreadedMotoServer

DEFAULT_ACCOUNT = "123456789012"
PROD_ACCOUNT = "111111111111"
STAGING_ACCOUNT = "222222222222"
SANDBOX_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "AKIASANDBOXEXAMPLE01",
    "AWS_SECRET_ACCESS_KEY": "sandbox-secret-access-key-not-real",
    "AWS_REGION": "us-east-1",
    "ACCOUNT_PROD_ROLE_ARN": f"arn:aws:iam::{PROD_ACCOUNT}:role/ops-admin",
    "ACCOUNT_PROD_REGION": "us-east-1",
    "ACCOUNT_STAGING_ROLE_ARN": f"arn:aws:iam::{STAGING_ACCOUNT}:role/ops-admin",
    "ACCOUNT_STAGING_REGION": "eu-west-1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_moto() -> tuple[ThreadedMotoServer, str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server, f"http://127.0.0.1:{port}"


def _client(service: str, endpoint: str, region: str, keys: dict[str, str]):
    return botocore.session.Session().create_client(service, region_name=region, endpoint_url=endpoint, **keys)


def assume(endpoint: str, role_arn: str, keys: dict[str, str]) -> dict[str, str]:
    issued = _client("sts", endpoint, "us-east-1", keys).assume_role(RoleArn=role_arn, RoleSessionName="sandbox-seed")
    credentials = issued["Credentials"]
    return {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }


def seed(endpoint: str, environment: dict[str, str]) -> None:
    """Demo data: secrets, a hosted zone with records and a bucket with objects, per account."""
    default_keys = {
        "aws_access_key_id": environment["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": environment["AWS_SECRET_ACCESS_KEY"],
    }
    accounts = {
        "default": (default_keys, "us-east-1", "dev"),
        "prod": (assume(endpoint, environment["ACCOUNT_PROD_ROLE_ARN"], default_keys), "us-east-1", "prod"),
        "staging": (assume(endpoint, environment["ACCOUNT_STAGING_ROLE_ARN"], default_keys), "eu-west-1", "staging"),
    }
    for keys, region, stage in accounts.values():
        secrets = _client("secretsmanager", endpoint, region, keys)
        secrets.create_secret(Name=f"{stage}/db/password", SecretString=f"{stage}-demo-password")
        secrets.create_secret(Name=f"{stage}/api/key", SecretString='{"key": "demo"}', Description="Demo API key")
        route53 = _client("route53", endpoint, region, keys)
        zone = route53.create_hosted_zone(Name=f"{stage}.example.com", CallerReference=f"sandbox-{stage}")
        route53.change_resource_record_sets(
            HostedZoneId=zone["HostedZone"]["Id"],
            ChangeBatch={
                "Changes": [
                    {
                        "Action": "CREATE",
                        "ResourceRecordSet": {
                            "Name": f"{name}.{stage}.example.com",
                            "Type": "A",
                            "TTL": 300,
                            "ResourceRecords": [{"Value": ip}],
                        },
                    }
                    for name, ip in (("www", "192.0.2.10"), ("api", "192.0.2.20"))
                ]
            },
        )
        s3 = _client("s3", endpoint, region, keys)
        bucket = f"{stage}-demo-bucket"
        location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=bucket, **location)
        s3.put_object(Bucket=bucket, Key="README.txt", Body=f"Demo bucket for {stage}.\n".encode())
        s3.put_object(Bucket=bucket, Key="reports/2026-11.csv", Body=b"day,requests\n1,1200\n2,1350\n")


@dataclass
class Sandbox:
    server: ThreadedMotoServer
    endpoint: str

    @classmethod
    def start(cls) -> "Sandbox":
        server, endpoint = start_moto()
        environment = {**SANDBOX_ENVIRONMENT, "AWS_ENDPOINT_URL": endpoint}
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_PROFILE"):
            os.environ.pop(name, None)
        os.environ.update(environment)
        seed(endpoint, environment)
        return cls(server, endpoint)

    def print_connection_help(self, host: str, port: int, token: str | None) -> None:
        """The banner, once the server listens: where it is and how clients connect (with the token, if any)."""
        url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/mcp"
        header = f', "headers": {{"Authorization": "Bearer {token}"}}' if token else ""
        claude_header = f' --header "Authorization: Bearer {token}"' if token else ""
        print(
            f"\nsandbox: moto on {self.endpoint}; accounts default={DEFAULT_ACCOUNT}, prod={PROD_ACCOUNT}, "
            f"staging={STAGING_ACCOUNT}\n"
            f"AWS Ops MCP sandbox is serving at {url} (SSE: {url[:-4]}/sse)\n"
            f"Token: {token or 'none (loopback only)'}\n"
            f"Claude Code: claude mcp add --transport http aws-ops {url}{claude_header}\n"
            "Client configuration (.mcp.json):\n"
            f'  {{"mcpServers": {{"aws-ops": {{"type": "http", "url": "{url}"{header}}}}}}}\n'
            "Try: list_accounts, then list_secrets with account=prod.\n",
            file=sys.stderr,
        )
