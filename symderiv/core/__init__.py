"""symderiv.core."""
