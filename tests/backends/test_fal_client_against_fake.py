"""The fake fal server is faithful enough for fal's own client: fal-client, pointed at it
through its host override over TLS (a test certificate authority made by trustme), submits,
polls and fetches a result from it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import trustme

from tests.fal_fake import FakeFal
from tests.live_server import serve_in_thread

CLIENT_SCRIPT = """
import json, fal_client
handle = fal_client.submit("fal-ai/kling-video/v2.5-turbo/pro/text-to-video",
                           arguments={"prompt": "a red fox", "duration": "5"})
statuses = [type(event).__name__ for event in handle.iter_events(with_logs=True, interval=0.05)]
print(json.dumps({"request_id": handle.request_id, "statuses": statuses, "result": handle.get()}))
"""


def test_fal_client_submits_polls_and_fetches_from_the_fake(tmp_path: Path) -> None:
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1")
    ca_file, cert_file, key_file = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    certificate.private_key_and_cert_chain_pem.write_to_path(str(cert_file))
    certificate.private_key_pem.write_to_path(str(key_file))
    fake = FakeFal(key="fal-test-key")
    with serve_in_thread(fake.app, certfile=str(cert_file), keyfile=str(key_file)) as url:
        fake.base_url = url
        env = {**os.environ, "FAL_KEY": "fal-test-key", "SSL_CERT_FILE": str(ca_file),
               "FAL_QUEUE_RUN_HOST": url.removeprefix("https://")}
        done = subprocess.run([sys.executable, "-c", CLIENT_SCRIPT], env=env, capture_output=True,
                              text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["statuses"][-1] == "Completed"
    assert {"Queued", "InProgress"} <= set(report["statuses"])
    assert report["result"]["video"]["url"] == f"{url}/files/{report['request_id']}.mp4"
    assert [s.model_id for s in fake.submissions] == ["fal-ai/kling-video/v2.5-turbo/pro/text-to-video"]
    assert fake.submissions[0].body == {"prompt": "a red fox", "duration": "5"}
    assert fake.submissions[0].headers["authorization"] == "Key fal-test-key"
