"""A failed pipeline stage writes its failure line to pipeline.log too; a
refused run (a bad number) makes no run folder."""

import os

import pytest


@pytest.mark.slow
def test_a_failed_stage_is_in_pipeline_log(tool, tmp_path):
  not_a_zip = tmp_path / "gtsrb.zip"
  not_a_zip.write_bytes(b"not a zip archive")
  run = tmp_path / "run"
  proc = tool("pipeline", f"--output_dir={run}", f"--data={not_a_zip}",
              check=False)
  assert proc.returncode == 1 and "Traceback" not in proc.stderr
  error = [l for l in proc.stderr.splitlines() if l.startswith("error:")][-1]
  assert str(not_a_zip) in error
  log = (run / "pipeline.log").read_text()
  assert error in log


def test_a_refused_run_makes_no_folder(tool, tmp_path):
  proc = tool("pipeline", f"--output_dir={tmp_path / 'run'}", "--epochs=0",
              check=False)
  assert proc.returncode == 1
  assert "flag --epochs=0: 0 is out of range: it must be >= 1" in proc.stderr
  assert os.listdir(tmp_path) == []
