"""``python -m optuna_vmle``: see :mod:`optuna_vmle.cli`."""

import sys

from optuna_vmle.cli import main


sys.exit(main())
