"""The one path under every tool: calls as data, credentials and clients, the executor, errors, files, output."""
