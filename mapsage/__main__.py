import sys

from mapsage.cli import main

sys.exit(main())
