"""tools/freeze.py, summarize.py and transform.py as a user runs them."""

import os

import numpy as np
import pytest
import tensorflow as tf

from alexnet.graph_tools import graph_io


@pytest.fixture
def exported(tmp_path):
  """An inference graph (text) and its checkpoint, like train.py's export."""
  graph = tf.Graph()
  with graph.as_default():
    x = tf.compat.v1.placeholder(tf.float32, [None, 4], name="input")
    w = tf.compat.v1.get_variable("w", [4, 3])
    tf.nn.softmax(tf.identity(tf.matmul(x, w)), name="probabilities")
    saver = tf.compat.v1.train.Saver()
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      checkpoint = saver.save(session, str(tmp_path / "model.ckpt"))
  graph_io.save_graph_def(graph.as_graph_def(), str(tmp_path / "graph.pbtxt"),
                          as_text=True)
  return tmp_path, checkpoint


def test_freeze_summarize_transform(tool, exported, helpers):
  tmp, checkpoint = exported
  tool("freeze", f"--input_graph={tmp}/graph.pbtxt", "--input_binary=false",
       f"--input_checkpoint={checkpoint}", f"--output_graph={tmp}/frozen.pb",
       "--output_node_names=probabilities", "--restore_op_name=save/x")
  summary = tool("summarize", f"--in_graph={tmp}/frozen.pb").stdout
  assert "(name=input, type=float(1), shape=[?,4])" in summary
  assert "(name=probabilities, op=Softmax)" in summary
  command = summary.strip().splitlines()[-1]
  assert command.startswith("python tools/transform.py")
  proc = tool("transform", f"--in_graph={tmp}/frozen.pb",
              f"--out_graph={tmp}/out.pb", "--inputs=input",
              "--outputs=probabilities",
              "--transforms=remove_nodes(op=Identity)\n  obfuscate_names")
  assert "wrote" in proc.stdout
  out = graph_io.load_graph_def(str(tmp / "out.pb"))
  assert "Identity" not in helpers.op_counts(out)
  frozen = graph_io.load_graph_def(str(tmp / "frozen.pb"))
  feeds = {"input:0": np.ones((2, 4), np.float32)}
  np.testing.assert_allclose(
      helpers.run_graph(out, feeds, "probabilities:0"),
      helpers.run_graph(frozen, feeds, "probabilities:0"), rtol=1e-6)


def test_bad_inputs_give_one_line_and_no_output(tool, exported, tmp_path):
  tmp, checkpoint = exported
  tool("freeze", f"--input_graph={tmp}/graph.pbtxt", "--input_binary=false",
       f"--input_checkpoint={checkpoint}", f"--output_graph={tmp}/frozen.pb",
       "--output_node_names=probabilities")
  frozen = (tmp / "frozen.pb").read_bytes()
  # Cut inside the last record: a cut exactly between records would leave
  # a shorter but valid GraphDef that only --outputs can catch.
  (tmp / "cut.pb").write_bytes(frozen[:-3])
  out = tmp / "out.pb"
  # Each tool start costs seconds (TensorFlow import); the other refusals
  # are covered through the library in test_graph_io/test_registry/...
  cases = [
      ("transform", f"--in_graph={tmp}/cut.pb", f"--out_graph={out}",
       "--inputs=input", "--outputs=probabilities",
       "--transforms=remove_device"),
      ("transform", f"--in_graph={tmp}/frozen.pb",
       f"--out_graph={tmp}/missing/out.pb", "--inputs=input",
       "--outputs=probabilities", "--transforms=remove_device"),
      ("freeze", f"--input_graph={tmp}/graph.pbtxt", "--input_binary=true",
       f"--input_checkpoint={checkpoint}", f"--output_graph={out}",
       "--output_node_names=probabilities"),
  ]
  for name, *args in cases:
    proc = tool(name, *args, check=False)
    assert proc.returncode == 1, (name, args, proc.stderr)
    error_lines = [l for l in proc.stderr.splitlines()
                   if l.startswith("error: ")]
    assert len(error_lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()
  assert not (tmp / "missing").exists()
  assert (tmp / "frozen.pb").read_bytes() == frozen
  assert not [p for p in os.listdir(tmp) if ".tmp-" in p]
