#!/usr/bin/env bash
# Local development in Docker: build the image, run it with your AWS profiles, print how to connect.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: ./docker-start.sh [--sandbox] [--port PORT] [--env-file FILE] [--image NAME] [--dry-run]

Builds the image and serves it on http://127.0.0.1:8100/mcp (container port 8000):
  - ~/.aws is mounted read-only, so named profiles (SSO included) work: pick one with AWS_PROFILE=name.
  - .env beside this script (or --env-file FILE) is mounted as the server's .env when present.
  - MCP_AUTH_TOKEN comes from your environment or .env; when neither sets it, one is generated and
    printed. Put it in .env to keep it across restarts.

Options:
  --sandbox        serve the sandbox (in-container moto with demo data) instead of real AWS: builds the
                   image's sandbox target (the default image holds no moto)
  --port PORT      host port (default 8100)
  --env-file FILE  the .env file to mount (default: .env beside this script)
  --image NAME     image tag to build and run (default aws-ops-mcp, aws-ops-mcp-sandbox with --sandbox)
  --dry-run        print the docker commands instead of running them
  -h, --help       this help
USAGE
}

die() {
    echo "docker-start.sh: $*" >&2
    exit 2
}

here="$(cd "$(dirname "$0")" && pwd)"
image=""
port=8100
env_file="$here/.env"
sandbox=false
dry_run=false
while [ $# -gt 0 ]; do
    case "$1" in
        --sandbox) sandbox=true ;;
        --dry-run) dry_run=true ;;
        --port) [ $# -ge 2 ] || die "--port needs a value"; port="$2"; shift ;;
        --env-file) [ $# -ge 2 ] || die "--env-file needs a value"; env_file="$2"; shift ;;
        --image) [ $# -ge 2 ] || die "--image needs a value"; image="$2"; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
    shift
done
[[ "$port" =~ ^[0-9]+$ ]] || die "--port must be a number, not $port"
target=runtime
if $sandbox; then
    target=sandbox
    image="${image:-aws-ops-mcp-sandbox}"
fi
image="${image:-aws-ops-mcp}"
$dry_run || command -v docker >/dev/null || die "docker is not installed (see README: Deploying)"

# Prints a command (shell-quoted) under --dry-run, runs it otherwise.
run() {
    if $dry_run; then
        printf '%q' "$1"
        shift
        printf ' %q' "$@"
        printf '\n'
    else
        "$@"
    fi
}

# True when the .env file sets a non-empty MCP_AUTH_TOKEN (the server reads the value itself).
env_file_sets_token() {
    [ -f "$env_file" ] && grep -Eq "^[[:space:]]*(export[[:space:]]+)?MCP_AUTH_TOKEN[[:space:]]*=[[:space:]]*[\"']?[^\"'[:space:]#]" "$env_file"
}

generated=false
if [ -n "${MCP_AUTH_TOKEN:-}" ]; then
    token_source="your environment's MCP_AUTH_TOKEN"
elif env_file_sets_token; then
    token_source="MCP_AUTH_TOKEN from $env_file"
else
    MCP_AUTH_TOKEN="$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
    generated=true
    token_source="generated for this run"
fi

args=(docker run --rm --name aws-ops-mcp -p "127.0.0.1:$port:8000")
if [ -n "${MCP_AUTH_TOKEN:-}" ]; then
    # By name (-e NAME): the value never appears on a command line. Unset, the server reads .env's.
    export MCP_AUTH_TOKEN
    args+=(-e MCP_AUTH_TOKEN)
fi
if [ -f "$env_file" ]; then
    args+=(-v "$(cd "$(dirname "$env_file")" && pwd)/$(basename "$env_file"):/app/.env:ro")
fi
if ! $sandbox; then
    # Run as you, so the container can read your 0600 credential files (the image's own user is 10001).
    if [ "$(id -u)" != 0 ]; then
        args+=(--user "$(id -u):$(id -g)")
    fi
    if [ -d "$HOME/.aws" ]; then
        args+=(-v "$HOME/.aws:/home/app/.aws:ro")
    else
        echo "docker-start.sh: no $HOME/.aws: only environment credentials will be available" >&2
    fi
    for name in AWS_PROFILE AWS_REGION AWS_DEFAULT_REGION AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN; do
        if [ -n "${!name:-}" ]; then
            args+=(-e "$name")
        fi
    done
fi
args+=("$image")

url="http://127.0.0.1:$port/mcp"
mode=""
note=""
if $sandbox; then
    # The sandbox target's entrypoint starts the server with --sandbox.
    mode=" (sandbox: demo data, no real AWS)"
    note="The sandbox's own message below names the container's port, 8000; from this machine use $port."
fi
if $generated; then
    shown_token="$MCP_AUTH_TOKEN"
else
    shown_token='<your MCP_AUTH_TOKEN>'
fi
cat >&2 <<EOF
AWS Ops MCP in Docker$mode
  URL:   $url   (SSE: http://127.0.0.1:$port/sse)
  Token: $shown_token   ($token_source)
Claude Code:
  claude mcp add --transport http aws-ops $url --header "Authorization: Bearer $shown_token"
VS Code (.vscode/mcp.json):
  {"servers": {"aws-ops": {"type": "http", "url": "$url", "headers": {"Authorization": "Bearer $shown_token"}}}}
Cursor (~/.cursor/mcp.json):
  {"mcpServers": {"aws-ops": {"url": "$url", "headers": {"Authorization": "Bearer $shown_token"}}}}
$note
EOF

run docker build --target "$target" -t "$image" "$here"
run "${args[@]}"
