"""Write docs/REFERENCE.md from the pydantic models (``make reference``).

``--check`` writes nothing and exits 1 when the file is not what the models give (``make
reference-check``, run by CI, does the same through ``git diff``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from zone.reference import render

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "REFERENCE.md"


def main(argv: list[str] | None = None) -> int:
    """Render the reference; return a process exit status."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args(argv)
    text = render(ROOT)
    current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
    if args.check:
        if current != text:
            print(f"{TARGET.relative_to(ROOT)} is stale: run `make reference`", file=sys.stderr)
            return 1
        return 0
    if current != text:
        TARGET.write_text(text, encoding="utf-8")
        print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
