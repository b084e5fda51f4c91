"""`python -m app ...` is the same as `arena ...`."""

import sys

from app.cli import main

sys.exit(main())
