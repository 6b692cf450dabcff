"""``python -m nomadlab`` is the ``nomadlab`` command."""

import sys

from nomadlab.cli import main

sys.exit(main())
