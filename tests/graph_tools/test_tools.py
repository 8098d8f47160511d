"""scripts/convert.sh and tools/freeze.py, summarize.py, transform.py as a
user runs them."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from alexnet.graph_tools import graph_io
from alexnet.nets import alexnet
from tests import builders

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


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


@pytest.mark.slow
def test_convert_sh_chain(tmp_path, helpers):
  """scripts/convert.sh: freeze -> summarize -> transform -> .tflite."""
  graph = tf.Graph()
  with graph.as_default():
    logits, _ = alexnet.alexnet(alexnet.input_placeholder(67),
                                fc_units=builders.FC_UNITS)
    alexnet.inference_outputs(logits)
    saver = tf.compat.v1.train.Saver()
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      checkpoint = saver.save(session, str(tmp_path / "model.ckpt"))
  graph_io.save_graph_def(graph.as_graph_def(), str(tmp_path / "graph.pb"))
  out = {name: str(tmp_path / name) for name in
         ("frozen.pb", "model.tflite", "transformed.pb")}
  proc = subprocess.run(
      [os.path.join(REPO, "scripts", "convert.sh"), str(tmp_path / "graph.pb"),
       checkpoint, "true", out["frozen.pb"], "input", "probabilities",
       out["model.tflite"], "FLOAT", "FLOAT", out["transformed.pb"]],
      capture_output=True, text=True, timeout=600,
      env=dict(os.environ, INPUT_SHAPE="1,67,67,3", PYTHON=sys.executable))
  assert proc.returncode == 0, proc.stdout + proc.stderr
  assert "Found 1 possible inputs: (name=input" in proc.stdout
  frozen = graph_io.load_graph_def(out["frozen.pb"])
  transformed = graph_io.load_graph_def(out["transformed.pb"])
  assert "Identity" not in helpers.op_counts(transformed)
  assert {"input", "probabilities"} <= {n.name for n in transformed.node}
  image = np.random.RandomState(0).uniform(0, 255, (1, 67, 67, 3))
  image = image.astype(np.float32)
  want = helpers.run_graph(frozen, {"input:0": image}, "probabilities:0")
  interpreter = Interpreter(model_path=out["model.tflite"])
  interpreter.allocate_tensors()
  interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image)
  interpreter.invoke()
  got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
  np.testing.assert_allclose(got, want, atol=0.02)


def test_bad_inputs_give_one_line_and_no_output(tool, exported, tmp_path):
  tmp, checkpoint = exported
  # freeze_graph.py ignores these two (deprecated there); so do we, saying so
  # in one warning.
  proc = tool("freeze", f"--input_graph={tmp}/graph.pbtxt",
              "--input_binary=false", f"--input_checkpoint={checkpoint}",
              f"--output_graph={tmp}/frozen.pb",
              "--output_node_names=probabilities",
              "--restore_op_name=nothing/restore", "--filename_tensor_name=x:0")
  warnings = [l for l in proc.stderr.splitlines() if "ignored" in l]
  assert len(warnings) == 1, proc.stderr
  assert "--restore_op_name and --filename_tensor_name" in warnings[0]
  frozen = (tmp / "frozen.pb").read_bytes()
  assert graph_io.load_graph_def(str(tmp / "frozen.pb")).node
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
      # A transform's bad argument (tests/graph_tools/test_bad_arguments.py
      # has every one): refused before anything is written.
      ("transform", f"--in_graph={tmp}/frozen.pb", f"--out_graph={out}",
       "--inputs=input", "--outputs=probabilities",
       "--transforms=rename_node(old_node_name=nope, new_node_name=w2)"),
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


def test_transform_report(tool, exported):
  tmp, _ = exported
  graph = graph_io.load_graph_def(str(tmp / "graph.pbtxt"))
  proc = tool("transform", f"--in_graph={tmp}/graph.pbtxt",
              f"--out_graph={tmp}/out.pb", "--inputs=input",
              "--outputs=probabilities", "--report",
              "--transforms=strip_unused_nodes remove_nodes(op=Identity)")
  table = [line for line in proc.stdout.splitlines() if line.startswith("|")]
  assert table[0].startswith("| transform | nodes before | nodes after |")
  rows = [[cell.strip() for cell in line.strip("|").split("|")]
          for line in table[2:]]
  assert [row[0] for row in rows] == ["`strip_unused_nodes`",
                                      "`remove_nodes(op=Identity)`"]
  nodes = [(int(row[1]), int(row[2])) for row in rows]
  assert nodes[0][0] == len(graph.node)
  assert nodes[0][1] < nodes[0][0]  # the saver and initializers go
  assert nodes[1] == (nodes[0][1], nodes[0][1] - 1)  # the tf.identity
  out = graph_io.load_graph_def(str(tmp / "out.pb"))
  assert nodes[1][1] == len(out.node)
  assert int(rows[1][4].replace(",", "")) == os.path.getsize(tmp / "out.pb")
