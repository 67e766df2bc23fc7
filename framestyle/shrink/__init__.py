"""Make students smaller: int8/fp16 quantisation, channel pruning, binary weights."""
