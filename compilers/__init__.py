"""kiln.compilers: language front end, reference interpreter, ISA, compilers and VMs."""
