"""The pipeline's quantization-aware setting: a "qat" stage before the TFLite
conversions, the qat_int8 variant and the QAT frozen graph in the comparison
(the end-to-end run is tests/pipeline/test_pipeline.py's)."""

from alexnet.pipeline import stages


def test_qat_epochs_add_the_stage_and_the_variant(tmp_path):
  plain = stages.Pipeline(str(tmp_path / "plain"))
  qat = stages.Pipeline(str(tmp_path / "qat"), overrides={"qat_epochs": 2})
  names = [name for name, _, _ in qat.stages()]
  assert "qat" not in [name for name, _, _ in plain.stages()]
  assert names.index("qat") == names.index("tflite") - 1
  assert stages.QAT_VARIANT not in plain.tflite_variants()
  assert stages.QAT_VARIANT in qat.tflite_variants()
  models = dict(qat.models())
  assert models["frozen_qat"].endswith("graphs/frozen_qat.pb")
  assert models["tflite_qat_int8"].endswith("tflite/alexnet_qat_int8.tflite")
  assert dict(qat.models()).keys() - dict(plain.models()).keys() == {
      "frozen_qat", "tflite_qat_int8"}
