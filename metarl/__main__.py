"""``python -m metarl`` runs the command line."""

import sys

from metarl.cli import main

sys.exit(main())
