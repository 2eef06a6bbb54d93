"""``python -m kiln``: the kiln command line."""
from .cli import main

raise SystemExit(main())
