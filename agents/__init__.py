"""kiln.agents: policies that emit target code.

``config.ModelConfig`` (named sizes ``tiny``/``small``/``base``), ``model.Seq2Seq`` (the
encoder-decoder transformer with a value head; full and incremental decoding),
``sampling.sample`` (K candidates per program, batched, masked by the validator's rule) and
``checkpoint`` (safetensors + JSON, refused when truncated, corrupted or incompatible).
"""
