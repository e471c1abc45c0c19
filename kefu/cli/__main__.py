import sys

from kefu.cli.main import main

sys.exit(main())
