"""Test session setup: stop at once, with the fix, when kiln is not installed."""
import pytest

try:
    import kiln  # noqa: F401
except ImportError as error:  # kiln/__init__.py says how to install when that is the cause
    raise pytest.UsageError(f"cannot import kiln: {error}") from error
