"""The servers the bench measures against, each run as its own process: `python -m bench.backends moto|floor PORT`.

`floor` is a bare MCPServer served by the same uvicorn and transport settings as server.py, with an echo tool (the
floor) and `caller_identity`, the least a server can do for get_account_info: boto3 in a worker thread.
"""

import os
import sys
import threading

HOST = "127.0.0.1"


def serve_moto(port: int) -> None:
    from moto.server import ThreadedMotoServer

    ThreadedMotoServer(ip_address=HOST, port=port, verbose=False).start()
    threading.Event().wait()


def serve_floor(port: int) -> None:
    import anyio
    import boto3
    import uvicorn
    from botocore.config import Config
    from mcp.server.mcpserver import MCPServer

    from config import load_settings
    from http_app import transport_security

    floor = MCPServer("floor")
    sts = boto3.client("sts", region_name=os.environ["AWS_REGION"], config=Config(max_pool_connections=32))

    @floor.tool()
    def echo(text: str) -> str:
        return text

    @floor.tool()
    async def caller_identity() -> dict[str, str]:
        identity = await anyio.to_thread.run_sync(sts.get_caller_identity)
        return {"account": identity["Account"], "arn": identity["Arn"], "user_id": identity["UserId"]}

    security = transport_security(HOST, load_settings({}, env_file=None))
    app = floor.streamable_http_app(streamable_http_path="/mcp", transport_security=security, host=HOST)
    uvicorn.run(app, host=HOST, port=port, log_level="warning")


if __name__ == "__main__":
    {"moto": serve_moto, "floor": serve_floor}[sys.argv[1]](int(sys.argv[2]))
