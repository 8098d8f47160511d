"""TensorFlow Lite only: `converter` (frozen graph to .tflite, post-training
quantization), `full_integer` (int8), `layer_errors` (int8 error by layer,
--float_layers=auto:N), `lower_lrn`, `metadata`, `flatbuffer`
(reading .tflite files) and `interpreter` (LiteRT predictions and latency)."""
