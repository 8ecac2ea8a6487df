"""`python -m snapmix_demo`: the command line."""

import sys

from snapmix_demo.cli import main

sys.exit(main())
