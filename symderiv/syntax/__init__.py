"""symderiv.syntax."""
