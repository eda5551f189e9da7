"""The downloader against a local HTTP server on 127.0.0.1 (Range support, checksums, offline)."""

import hashlib
import http.server
import threading

import pytest

from resad_tf.data import download as dl
from resad_tf.errors import InputError

PAYLOAD = bytes(range(256)) * 4000  # ~1 MB


class _Handler(http.server.BaseHTTPRequestHandler):
    served_ranges: list = []

    def do_GET(self):  # noqa: N802
        if self.path != "/file.h5":
            self.send_error(404)
            return
        start = 0
        rng = self.headers.get("Range")
        if rng:
            start = int(rng.split("=")[1].split("-")[0])
            type(self).served_ranges.append(start)
            if start >= len(PAYLOAD):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        else:
            self.send_response(200)
        body = PAYLOAD[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    _Handler.served_ranges = []
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def test_download_and_checksum(server, tmp_path):
    md5 = hashlib.md5(PAYLOAD).hexdigest()
    out = dl.download(f"{server}/file.h5", tmp_path / "f.h5", md5=md5, progress=False)
    assert out.read_bytes() == PAYLOAD
    assert not (tmp_path / "f.h5.part").exists()


def test_resume_from_partial(server, tmp_path):
    (tmp_path / "f.h5.part").write_bytes(PAYLOAD[:300_000])
    out = dl.download(f"{server}/file.h5", tmp_path / "f.h5", progress=False)
    assert out.read_bytes() == PAYLOAD
    assert _Handler.served_ranges == [300_000]


def test_checksum_mismatch_removes_part(server, tmp_path):
    with pytest.raises(InputError, match="checksum mismatch"):
        dl.download(f"{server}/file.h5", tmp_path / "f.h5", md5="0" * 32, progress=False)
    assert not (tmp_path / "f.h5").exists() and not (tmp_path / "f.h5.part").exists()


def test_http_error_and_offline(server, tmp_path):
    with pytest.raises(InputError, match="HTTP 404"):
        dl.download(f"{server}/missing.h5", tmp_path / "m.h5", progress=False)
    with pytest.raises(InputError, match="cannot reach.*offline"):
        dl.download("http://127.0.0.1:9/none.h5", tmp_path / "n.h5", progress=False, timeout=2)


def test_catalogue_names():
    assert "events_anomalydetection_v2.features.h5" in dl.CATALOGUE
    with pytest.raises(InputError, match="unknown file"):
        dl.fetch("nope.h5", "/tmp")
