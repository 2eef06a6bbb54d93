"""IR passes for -O2 (filled in by the O2 work)."""
O2_PASSES = ()
