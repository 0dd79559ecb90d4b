"""Notebooks: generate them from jupytext sources (``render``), execute them with papermill
(``execute``), and start training from inside one (``launch``)."""
