"""symderiv.proofs.random."""
