"""``python -m tasks.cli``: the ``tryon`` command."""

import sys

from tasks.cli import main

sys.exit(main())
