"""symderiv.explain."""
