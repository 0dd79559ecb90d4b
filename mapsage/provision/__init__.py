"""Provisioning: act on what ``envcheck`` decides the environment needs. ``mmcv`` installs
mmcv 2.1.0 with compiled ops (installed, wheelhouse, prebuilt or source build); ``wheelhouse``
caches built wheels keyed by what their ops were compiled against.

``python -m mapsage.provision`` runs :func:`mapsage.provision.mmcv.main`.
"""
