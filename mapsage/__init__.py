"""MapSage: reproducible SegFormer/LoveDA training notebooks, the same on a laptop, in CI and on Kaggle.

Importing this package is cheap: the training stack (torch, mmcv, mmengine, mmseg) is only
imported by the modules that train or evaluate, never at package import time.
"""

__version__ = "0.1.0"
