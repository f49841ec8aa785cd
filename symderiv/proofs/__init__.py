"""symderiv.proofs."""
