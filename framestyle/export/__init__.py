"""Exporters: ONNX (dynamic H,W), TFLite, CoreML, YUV-input models."""
