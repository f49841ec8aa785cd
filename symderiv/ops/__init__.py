"""symderiv.ops."""
