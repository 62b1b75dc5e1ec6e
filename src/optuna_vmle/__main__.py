import sys

from optuna_vmle.cli import main


sys.exit(main())
