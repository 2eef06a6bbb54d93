"""``ModelConfig``: the shape of the neural compiler, and its named sizes."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of the encoder-decoder transformer (``agents.model.Seq2Seq``)."""

    d_model: int = 256
    """Width of every hidden state."""
    heads: int = 8
    """Attention heads (``d_model`` must be a multiple)."""
    encoder_layers: int = 3
    """Transformer blocks over the source tokens."""
    decoder_layers: int = 3
    """Transformer blocks over the target tokens (self-attention, cross-attention, MLP)."""
    d_ff: int = 640
    """Width of each block's MLP."""
    max_source_len: int = 256
    """Longest source token stream the encoder reads."""
    max_target_len: int = 128
    """Most target tokens per program, ``eos`` included (the KV cache's length)."""

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ModelConfig.{f.name} must be a positive int, got {value!r}")
        if self.d_model % self.heads:
            raise ValueError(f"ModelConfig.d_model ({self.d_model}) must be a multiple of heads "
                             f"({self.heads})")

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        """The config of a checkpoint's JSON; ValueError naming unknown or missing fields."""
        names = {f.name for f in fields(cls)}
        unknown, missing = sorted(set(data) - names), sorted(names - set(data))
        if unknown or missing:
            raise ValueError(f"model config: unknown fields {unknown}, missing fields {missing}")
        return cls(**data)

    @classmethod
    def preset(cls, name: str) -> ModelConfig:
        """A named size: ``tiny`` (tests, seconds on a CPU), ``small`` (the shipped default),
        ``base`` (GPU only)."""
        if name not in PRESETS:
            raise ValueError(f"unknown model size {name!r}; choose one of {sorted(PRESETS)}")
        return PRESETS[name]


PRESETS: dict[str, ModelConfig] = {
    "tiny": ModelConfig(d_model=32, heads=2, encoder_layers=1, decoder_layers=1, d_ff=64),
    "small": ModelConfig(),
    "base": ModelConfig(d_model=512, heads=8, encoder_layers=6, decoder_layers=6, d_ff=2048),
}
