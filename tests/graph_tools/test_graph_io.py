"""Reading and writing GraphDefs: formats, damage, atomic streamed output."""

import os

import pytest
from google.protobuf import text_format

from alexnet.core.errors import UserError
from alexnet.graph_tools import graph_io
from alexnet.graph_tools import tensor_store


@pytest.fixture
def basic(helpers):
  return graph_io.load_graph_def(
      os.path.join(helpers.golden_dir, "basic.input.pb"))


def test_binary_round_trip_is_byte_identical(basic, tmp_path, helpers):
  path = tmp_path / "g.pb"
  graph_io.save_graph_def(basic, str(path))
  assert path.read_bytes() == basic.SerializeToString()
  assert graph_io.load_graph_def(str(path), binary=True) == basic


def test_text_is_detected_and_checked_against_the_flag(basic, tmp_path):
  path = tmp_path / "g.pbtxt"
  graph_io.save_graph_def(basic, str(path), as_text=True)
  assert graph_io.load_graph_def(str(path)) == basic
  with pytest.raises(UserError, match="--input_binary=false"):
    graph_io.load_graph_def(str(path), binary=True)
  binary = tmp_path / "g.pb"
  graph_io.save_graph_def(basic, str(binary))
  with pytest.raises(UserError, match="--input_binary=true"):
    graph_io.load_graph_def(str(binary), binary=False)


@pytest.mark.parametrize("cut", [0.5, 0.97])
def test_truncated_file_is_rejected(basic, tmp_path, cut):
  data = basic.SerializeToString()
  path = tmp_path / "cut.pb"
  path.write_bytes(data[:int(len(data) * cut)])
  with pytest.raises(UserError, match="cut.pb"):
    graph_io.load_graph_def(str(path))


def test_non_graph_files_are_rejected(tmp_path):
  for name, data in (("empty.pb", b""), ("noise.pb", os.urandom(3000)),
                     ("words.txt", b"hello world\n")):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(UserError, match=name):
      graph_io.load_graph_def(str(path))


def test_dangling_input_is_rejected(tmp_path):
  path = tmp_path / "bad.pbtxt"
  path.write_text('node { name: "a" op: "Identity" input: "missing" }')
  with pytest.raises(UserError, match="missing"):
    graph_io.load_graph_def(str(path))


def test_missing_output_directory(basic, tmp_path):
  with pytest.raises(UserError, match="does not exist"):
    graph_io.save_graph_def(basic, str(tmp_path / "nope" / "g.pb"))
  assert not (tmp_path / "nope").exists()


def test_text_write_is_parseable(basic, tmp_path):
  path = tmp_path / "g.pbtxt"
  graph_io.save_graph_def(basic, str(path), as_text=True)
  parsed = text_format.Parse(path.read_text(), type(basic)())
  assert len(parsed.node) == len(basic.node)


def test_tensor_store_round_trip(basic, tmp_path):
  path = tmp_path / "g.pb"
  graph_io.save_graph_def(basic, str(path))
  tensors = tensor_store.TensorStore(detach_min_bytes=64)
  loaded = graph_io.load_graph_def(str(path), tensors=tensors)
  detached = [n for n in loaded.node if tensor_store.MARKER in n.attr]
  assert detached and all(
      not n.attr["value"].tensor.tensor_content for n in detached)
  out = tmp_path / "out.pb"
  graph_io.save_graph_def(loaded, str(out), tensors=tensors)
  assert graph_io.load_graph_def(str(out)) == basic
  assert tensors.attached_copy(loaded) == basic


def test_parse_graph_def_checks_bytes_as_load_checks_files(basic):
  data = basic.SerializeToString()
  assert graph_io.parse_graph_def(data) == basic
  assert graph_io.parse_graph_def(text_format.MessageToBytes(basic)) == basic
  with pytest.raises(UserError, match="the serialized graph is truncated"):
    graph_io.parse_graph_def(data[:len(data) // 2])
  with pytest.raises(UserError, match="--input_binary=true"):
    graph_io.parse_graph_def(data, "g.pb", binary=False)
  dangling = type(basic)()
  dangling.node.add(name="a", op="Identity", input=["missing:1"])
  with pytest.raises(UserError, match="'missing:1'"):
    graph_io.parse_graph_def(dangling.SerializeToString())
