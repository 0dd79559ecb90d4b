import sys

from mapsage.provision.mmcv import main

sys.exit(main())
