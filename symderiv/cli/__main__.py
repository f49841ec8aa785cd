"""``python -m symderiv.cli``: the command line."""

import sys

from symderiv.cli import main

sys.exit(main())
