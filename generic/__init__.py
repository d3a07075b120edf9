"""Every AWS operation beyond the curated tools: execute, AWS CLI commands, the high-level s3 commands."""
