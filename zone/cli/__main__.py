"""``python -m zone.cli``: the ``zone`` command, for callers without the console script."""

import sys

from zone.cli import main

if __name__ == "__main__":
    sys.exit(main())
