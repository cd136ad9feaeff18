"""``python -m readerstation`` runs the command line."""

import sys

from readerstation.cli import main

sys.exit(main())
