"""Every Python snippet of README.md runs as written (a snippet whose first line is
``# needs: cuda`` runs only where torch sees a GPU)."""
import re
from pathlib import Path

import pytest
import torch

README = Path(__file__).resolve().parents[1] / "README.md"
SNIPPETS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_snippets():
    assert len(SNIPPETS) >= 3


@pytest.mark.parametrize("index", range(len(SNIPPETS)))
def test_readme_snippet_runs(index):
    snippet = SNIPPETS[index]
    if snippet.startswith("# needs: cuda") and not torch.cuda.is_available():
        pytest.skip("a GPU snippet: runs where torch sees a CUDA device")
    exec(compile(snippet, f"README.md snippet {index}", "exec"), {})
