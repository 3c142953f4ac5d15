"""`python -m gateway` runs the `shieldgate` command line."""

import sys

from gateway.cli import main

sys.exit(main())
