"""symderiv.backends."""
