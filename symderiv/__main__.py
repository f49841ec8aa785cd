"""``python -m symderiv``: the command line (the same as ``python -m symderiv.cli``)."""

import sys

from symderiv.cli import main

sys.exit(main())
