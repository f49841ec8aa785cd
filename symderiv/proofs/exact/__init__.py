"""symderiv.proofs.exact."""
