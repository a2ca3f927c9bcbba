"""`python -m kernelnet ...`: the kernelnet command line (see `kernelnet.cli`)."""

import sys

from kernelnet.cli import main

if __name__ == "__main__":
    sys.exit(main())
