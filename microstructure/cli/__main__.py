"""``python -m microstructure.cli``."""

import sys

from microstructure.cli import main

sys.exit(main())
