"""Programs to compile: the seeded random generator and the hand-written suite."""
