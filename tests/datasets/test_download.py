"""Downloads from a real HTTP server on 127.0.0.1: resume, checksums, extraction."""

import hashlib
import http.server
import os
import threading
import zipfile

import pytest

from alexnet.datasets import download
from alexnet.core.errors import UserError


class _Server:
  """Serves `files` (name -> bytes) with Range support; can cut responses.

  `cut_after[name] = n` makes the next response for `name` stop after n
  bytes (then the connection closes), once. `ranges` logs each request's
  Range header (None if absent); with `honor_range` False the server answers
  every request with the whole file, as some servers do.
  """

  def __init__(self, files):
    self.files = files
    self.cut_after = {}
    self.honor_range = True
    self.ranges = []
    server = self

    class Handler(http.server.BaseHTTPRequestHandler):

      def do_GET(self):  # pylint: disable=invalid-name
        name = self.path.lstrip("/")
        if name not in server.files:
          self.send_error(404)
          return
        data = server.files[name]
        header = self.headers.get("Range")
        server.ranges.append(header)
        if not server.honor_range:
          header = None
        start = int(header[len("bytes="):].split("-")[0]) if header else 0
        self.send_response(206 if header else 200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        body = data[start:]
        cut = server.cut_after.pop(name, None)
        self.wfile.write(body if cut is None else body[:cut])
        self.close_connection = True

      def log_message(self, *args):
        del args

    self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    self.url = f"http://127.0.0.1:{self.httpd.server_port}/"
    self.thread = threading.Thread(target=self.httpd.serve_forever,
                                   kwargs={"poll_interval": 0.05}, daemon=True)
    self.thread.start()

  def close(self):
    self.httpd.shutdown()
    self.httpd.server_close()


@pytest.fixture
def server():
  s = _Server({})
  yield s
  s.close()


def _md5(data):
  return "md5:" + hashlib.md5(data).hexdigest()


PAYLOAD = bytes(range(256)) * 4000  # ~1 MB, enough for several reads.


def test_connection_cut_mid_file_is_resumed(server, tmp_path):
  server.files["a.zip"] = PAYLOAD
  server.cut_after["a.zip"] = 300000
  path = str(tmp_path / "a.zip")

  download.download_file(server.url + "a.zip", path, _md5(PAYLOAD))

  with open(path, "rb") as f:
    assert f.read() == PAYLOAD
  assert server.ranges == [None, "bytes=300000-"]
  assert not os.path.exists(path + ".part")


def test_existing_part_file_is_continued(server, tmp_path):
  server.files["a.zip"] = PAYLOAD
  path = str(tmp_path / "a.zip")
  with open(path + ".part", "wb") as f:
    f.write(PAYLOAD[:12345])

  download.download_file(server.url + "a.zip", path, _md5(PAYLOAD))

  assert server.ranges == ["bytes=12345-"]
  with open(path, "rb") as f:
    assert f.read() == PAYLOAD


def test_server_ignoring_range_restarts_the_file(server, tmp_path):
  server.files["a.zip"] = PAYLOAD
  server.honor_range = False
  path = str(tmp_path / "a.zip")
  with open(path + ".part", "wb") as f:
    f.write(b"stale bytes from elsewhere")

  download.download_file(server.url + "a.zip", path, _md5(PAYLOAD))

  with open(path, "rb") as f:
    assert f.read() == PAYLOAD


def test_checksum_mismatch_is_refused_and_deleted(server, tmp_path):
  server.files["a.zip"] = PAYLOAD
  path = str(tmp_path / "a.zip")
  wrong = _md5(b"something else")
  with pytest.raises(UserError, match=wrong[len("md5:"):]) as error:
    download.download_file(server.url + "a.zip", path, wrong)
  assert "checksum" in str(error.value) and "\n" not in str(error.value)
  assert not os.path.exists(path) and not os.path.exists(path + ".part")


def test_verified_download_is_not_fetched_again(server, tmp_path):
  server.files["a.zip"] = PAYLOAD
  path = str(tmp_path / "a.zip")
  download.download_file(server.url + "a.zip", path, _md5(PAYLOAD))
  download.download_file(server.url + "a.zip", path, _md5(PAYLOAD))
  assert server.ranges == [None]


def test_http_error_is_a_user_error(server, tmp_path):
  with pytest.raises(UserError, match="HTTP 404"):
    download.download_file(server.url + "missing.zip", str(tmp_path / "m.zip"))


def _zip_bytes(tmp_path, name, members):
  path = tmp_path / name
  with zipfile.ZipFile(path, "w") as archive:
    for member, data in members.items():
      archive.writestr(member, data)
  return path.read_bytes()


def test_download_gtsrb_extracts_the_official_layout(server, tmp_path):
  train = _zip_bytes(tmp_path, "t.zip", {
      "GTSRB/Final_Training/Images/00014/GT-00014.csv": b"csv",
      "GTSRB/Final_Training/Images/00014/00000_00000.ppm": b"ppm",
  })
  test = _zip_bytes(tmp_path, "i.zip", {
      "GTSRB/Final_Test/Images/00000.ppm": b"test ppm",
      "GTSRB/Final_Test/Images/GT-final_test.test.csv": b"unlabeled",
  })
  gt = _zip_bytes(tmp_path, "g.zip", {"GT-final_test.csv": b"labels"})
  server.files.update({"train.zip": train, "test.zip": test, "gt.zip": gt})
  archives = [download.Archive(name, server.url + name, _md5(data))
              for name, data in server.files.items()]
  out = tmp_path / "raw"

  root = download.download_gtsrb(str(out), archives=archives)

  assert root == str(out / "GTSRB")
  assert (out / "GTSRB/Final_Training/Images/00014/00000_00000.ppm"
          ).read_bytes() == b"ppm"
  assert (out / "GTSRB/Final_Test/Images/GT-final_test.csv"
          ).read_bytes() == b"labels"
  assert (out / "GTSRB/Final_Test/Images/00000.ppm").read_bytes() == b"test ppm"
  with pytest.raises(UserError, match="--overwrite"):
    download.download_gtsrb(str(out), archives=archives)


@pytest.mark.parametrize("member", ["../evil.txt", "/abs/evil.txt",
                                    "GTSRB/../../evil.txt"])
def test_path_traversal_members_are_refused(tmp_path, member):
  archive = tmp_path / "bad.zip"
  archive.write_bytes(_zip_bytes(tmp_path, "bad.zip", {
      "GTSRB/Final_Training/Images/00000/GT-00000.csv": b"csv",
      member: b"evil"}))
  out = tmp_path / "out" / "raw"
  out.parent.mkdir()
  with pytest.raises(UserError, match="outside"):
    download.download_gtsrb(str(out), local_archives=[str(archive)])
  assert not (tmp_path / "out" / "evil.txt").exists()
  assert not (tmp_path / "evil.txt").exists()
  assert not (out / "GTSRB").exists()


def test_local_archive_checksum_and_layout_are_checked(tmp_path):
  archive = tmp_path / "other.zip"
  archive.write_bytes(_zip_bytes(tmp_path, "other.zip", {"readme.txt": b"x"}))
  out = str(tmp_path / "raw")
  with pytest.raises(UserError, match="sha256 is"):
    download.download_gtsrb(out, local_archives=[str(archive)],
                            local_checksums=["sha256:" + "0" * 64])
  with pytest.raises(UserError, match="Final_Training/Images"):
    download.download_gtsrb(out, local_archives=[str(archive)])
  not_zip = tmp_path / "not.zip"
  not_zip.write_bytes(b"plain text")
  with pytest.raises(UserError, match="not a zip"):
    download.download_gtsrb(out, local_archives=[str(not_zip)])
