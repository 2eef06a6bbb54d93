"""The traditional compiler: Python AST -> kiln IR -> optimisation passes -> bytecode."""
