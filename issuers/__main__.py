"""`python -m issuers` runs the issuer API; `python -m issuers migrate` etc. run commands."""

import sys

from issuers.cli import main

sys.exit(main())
