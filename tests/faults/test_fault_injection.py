"""Every tool over the catalogue of broken inputs (tests/faults/conftest.py).

For each case: a non-zero exit, no traceback, one error line that names the
file or flag at fault, the inputs unchanged and no file left behind (but for
a pipeline whose data stage fails: its run folder keeps pipeline.log, which
holds the error line; a refused pipeline run makes no folder). The
cases run in one process that imports TensorFlow once and forks a child per
command line (tests/fork_tools.py), so the catalogue costs seconds,
not one TensorFlow start per case.
"""

import json
import os
import subprocess
import sys

import pytest

from tests import builders

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))


def _cases(c):
  """[(tool, args, text the error line must contain)]."""
  out = lambda name: os.path.join(c["out"], name)
  data, model = c["tfrecords"], c["model_dir"]
  graph, tflite = c["graph"], c["tflite"]
  cases = []
  # 2. Numbers out of range: refused at parse time, naming the flag.
  for tool, args, flag in (
      ("train", [f"--data_dir={data}", f"--model_dir={out('m')}"],
       ["--batch_size=0", "--epochs=-1", "--max_steps=-5",
        "--learning_rate=0", "--dropout_rate=1", "--keep_checkpoints=0"]),
      ("evaluate", [f"--model_dir={model}", f"--data_dir={data}",
                    f"--output_dir={out('e')}"],
       ["--batch_size=0", "--num_threads=-1", "--latency_runs=-1"]),
      ("predict", [], ["--top_k=0"]),
      ("compare_models", [f"--models={graph}", f"--data_dir={data}",
                          f"--output_dir={out('c')}"],
       ["--limit=0", "--threads=0", "--latency_runs=-2"]),
      ("build_tfrecord", [f"--input_dir={c['converted_undecodable']}",
                          f"--output_dir={out('t')}"],
       ["--num_shards=0", "--validation_fraction=1.5", "--seed=-1"]),
      ("make_synthetic_gtsrb", [f"--output_dir={out('s')}"],
       ["--tracks_per_class=0", "--frames_per_track=-1", "--seed=-1",
        "--processes=0"]),
      ("convert", [f"--input_file={graph}", f"--output_file={out('x.tflite')}"],
       ["--representative_samples=0", "--image_size=3"]),
      ("convert_dataset", [f"--input_dir={c['images_class_mismatch']}",
                           f"--output_dir={out('cd')}"], ["--num_workers=0"]),
      ("freeze", [f"--input_graph={graph}", f"--output_graph={out('f.pb')}"],
       ["--checkpoint_version=3"]),
      ("pipeline", [f"--output_dir={out('p')}"],
       ["--epochs=-1", "--learning_rate=0", "--latency_runs=-1",
        "--num_shards=0", "--validation_fraction=1", "--train_seed=-1"]),
  ):
    for bad in flag:
      cases.append((tool, args + [bad], bad.split("=")[0] + "="))
  # 1. Corrupt or truncated artifacts, named.
  for ckpt in ("ckpt_truncated", "ckpt_bad_index"):
    prefix = c[ckpt]
    model_dir = os.path.dirname(prefix)
    cases += [
        ("evaluate", [f"--model_dir={model_dir}", f"--data_dir={data}",
                      "--checkpoint=latest", f"--output_dir={out('e')}"],
         prefix),
        ("export", [f"--model_dir={model_dir}", "--checkpoint=latest"],
         prefix),
        ("freeze", [f"--input_meta_graph={prefix}.meta", "--input_binary",
                    f"--input_checkpoint={prefix}",
                    f"--output_graph={out('f.pb')}",
                    "--output_node_names=probabilities"], prefix),
        ("train", [f"--data_dir={data}", f"--model_dir={model_dir}",
                   "--image_size=67", f"--fc_units={builders.FC_UNITS}",
                   "--epochs=3", "--batch_size=9"],
         prefix),
    ]
  for model_file in ("tflite_garbage", "tflite_truncated"):
    cases += [
        ("evaluate", [f"--model={c[model_file]}", f"--data_dir={data}",
                      f"--output_dir={out('e')}"], c[model_file]),
        ("compare_models", [f"--models={graph},{c[model_file]}",
                            f"--data_dir={data}", "--latency_runs=0",
                            f"--output_dir={out('c')}"], c[model_file]),
    ]
  # (Training and checkpoint evaluation build AlexNet: one case each.)
  corrupt = os.path.join(c["tfrecords_corrupt"], "")
  truncated = os.path.join(c["tfrecords_truncated"], "")
  cases += [
      ("train", [f"--data_dir={corrupt}", f"--model_dir={out('m')}",
                 "--image_size=67", "--epochs=1", "--batch_size=9"], corrupt),
      ("evaluate", [f"--model_dir={model}", f"--data_dir={truncated}",
                    "--checkpoint=latest", f"--output_dir={out('e')}"],
       truncated),
  ]
  for shard in (corrupt, truncated):
    cases += [
        ("compare_models", [f"--models={tflite}", f"--data_dir={shard}",
                            "--latency_runs=0", f"--output_dir={out('c')}"],
         shard),
        ("convert", [f"--input_file={graph}", f"--output_file={out('q.tflite')}",
                     "--quantize=int8", f"--representative_data={shard}",
                     "--representative_samples=27"], shard),
    ]
  bad_graph = c["graph_unimportable"]
  cases += [
      ("transform", [f"--in_graph={bad_graph}", f"--out_graph={out('t.pb')}",
                     "--transforms=remove_device"], bad_graph),
      ("convert", [f"--input_file={bad_graph}",
                   f"--output_file={out('x.tflite')}"], bad_graph),
      ("compare_models", [f"--models={bad_graph}", f"--data_dir={data}",
                          "--latency_runs=0", f"--output_dir={out('c')}"],
       bad_graph),
      ("summarize", [f"--in_graph={c['graph_bad_const']}", "--print_structure"],
       "'weights'"),
      ("transform", [f"--in_graph={c['graph_bad_const']}",
                     f"--out_graph={out('t.pb')}",
                     "--transforms=round_weights(num_steps=16)"], "'weights'"),
      ("summarize", [f"--in_graph={c['graph_truncated_text']}"],
       c["graph_truncated_text"]),
      ("build_tfrecord", [f"--input_dir={c['converted_undecodable']}",
                          f"--output_dir={out('t')}"], c["jpeg_undecodable"]),
  ]
  # 5. Messages that say what is wrong.
  cases += [
      ("convert", [f"--input_file={graph}", f"--output_file={out('x.tflite')}",
                   "--input_arrays=nope"], "no input node 'nope'"),
      ("convert", [f"--input_file={graph}", f"--output_file={out('x.tflite')}",
                   "--output_arrays=nope"], "no output node 'nope'"),
      ("convert_dataset", [f"--input_dir={c['images_class_mismatch']}",
                           f"--output_dir={out('cd')}"], "disagrees with"),
  ]
  # 3. The file system: an output whose parent is a file.
  under_file = os.path.join(c["a_file"], "sub")
  cases += [
      ("evaluate", [f"--model_dir={model}", f"--data_dir={data}",
                    "--checkpoint=latest", f"--output_dir={under_file}"],
       c["a_file"]),
      ("convert", [f"--input_file={graph}",
                   f"--output_file={under_file}/x.tflite"], c["a_file"]),
      ("transform", [f"--in_graph={graph}", f"--out_graph={under_file}/t.pb",
                     "--transforms=remove_device"], c["a_file"]),
      ("build_tfrecord", [f"--input_dir={c['converted_undecodable']}",
                          f"--output_dir={under_file}"], c["a_file"]),
      ("train", [f"--data_dir={data}", f"--model_dir={under_file}",
                 "--image_size=67", "--epochs=1", "--batch_size=9"],
       c["a_file"]),
      ("pipeline", [f"--output_dir={c['a_file']}"], c["a_file"]),
  ]
  return cases


# A failed pipeline stage keeps its run folder: pipeline.log, with the line.
_FAILED_STAGE = "failed_stage_run"


def _error_line(text):
  lines = [line for line in text.splitlines()
           if line.startswith("error:")]
  return lines[-1] if lines else None


@pytest.mark.slow
def test_every_tool_over_the_fault_catalogue(fault_catalogue, tmp_path):
  c = fault_catalogue
  cases = _cases(c)
  not_a_zip = os.path.join(c["root"], "gtsrb.zip")
  cases.append(("pipeline", [f"--output_dir={tmp_path / _FAILED_STAGE}",
                             f"--data={not_a_zip}"], not_a_zip))
  config = {"watch": [c["root"], c["tfrecords"], c["model_dir"]],
            "cases": [{"tool": t, "args": a, "cwd": str(tmp_path)}
                      for t, a, _ in cases]}
  cases_path, results_path = tmp_path / "cases.json", tmp_path / "results.json"
  cases_path.write_text(json.dumps(config))
  subprocess.run([sys.executable,
                  os.path.join(REPO_ROOT, "tests", "fork_tools.py"),
                  str(cases_path), str(results_path)], cwd=REPO_ROOT,
                 check=True, timeout=600)
  results = json.loads(results_path.read_text())
  failures = []
  for (tool, args, named), result in zip(cases, results):
    output = result["stdout"] + result["stderr"]
    line = _error_line(result["stderr"])
    problems = []
    if result["rc"] == 0:
      problems.append("exit 0")
    if "Traceback" in output:
      problems.append("traceback")
    if line is None or named not in line:
      problems.append(f"error line {line!r} does not name {named!r}")
    elif len(line) > 400:
      problems.append(f"error line of {len(line)} characters")
    if result["changed"]:
      problems.append(f"changed or left {result['changed']}")
    left = set(os.listdir(tmp_path)) - {"cases.json", "results.json",
                                        _FAILED_STAGE}
    if left:
      problems.append(f"left {sorted(left)} in the working folder")
    if _FAILED_STAGE in " ".join(args):
      log = tmp_path / _FAILED_STAGE / "pipeline.log"
      files = [f for _, _, names in os.walk(log.parent) for f in names]
      if (not log.exists() or line is None or line not in log.read_text() or
          files != ["pipeline.log"]):
        problems.append(f"{log} does not hold the error line, or {files} "
                        "are more than the log")
    if problems:
      failures.append(f"{tool} {' '.join(args)}: {'; '.join(problems)}\n"
                      f"    {output.strip().splitlines()[-1:]}")
  print(f"{len(cases)} cases, {sum(r['seconds'] for r in results):.1f} s "
        "in the tools; the slowest:")
  for (tool, args, _), result in sorted(
      zip(cases, results), key=lambda x: -x[1]["seconds"])[:8]:
    print(f"  {result['seconds']:5.1f} s  {tool} {' '.join(args)[:160]}")
  assert not failures, f"{len(failures)} of {len(cases)} cases:\n" + "\n".join(
      failures)
