"""symderiv.autodiff."""
