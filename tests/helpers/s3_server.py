"""A real S3-compatible server for tests: moto's server mode on 127.0.0.1 and a free port, with the
standard AWS environment variables pointed at it (pyarrow, delta-rs and boto3 all read them), so no test
ever reaches a network beyond this machine."""

from __future__ import annotations

import contextlib
import os
import socket


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def s3_server(bucket: str = "flywheel-test"):
    """Start moto's server, create `bucket`, set AWS_* for this process (and its subprocesses); yield the
    endpoint URL; stop it and restore the environment afterwards."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    settings = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ALLOW_HTTP": "true",  # delta-rs: the local endpoint speaks plain HTTP
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    try:
        boto3.client("s3").create_bucket(Bucket=bucket)
        yield endpoint
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        server.stop()
