"""TensorFlow Lite only: `converter` (frozen graph to .tflite, post-training
quantization), `full_integer` (int8), `lower_lrn`, `metadata`, `flatbuffer`
(reading .tflite files) and `interpreter` (LiteRT predictions and latency)."""
