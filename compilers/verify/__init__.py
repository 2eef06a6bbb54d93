"""Verification: probabilistic (tests on the VM) and formal (SMT equivalence with z3)."""
