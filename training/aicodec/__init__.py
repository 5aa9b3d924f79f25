"""libnic AI codec training (seed 000): jointly trained down/up-scaling networks."""
