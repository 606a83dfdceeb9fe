"""`python -m zenspec`: the same as the `zenspec` command."""

import sys

from zenspec.cli import main

sys.exit(main())
