"""LoveDA data: find its folder layout (``layout``), check it (``check``), synthesise a demo
set (``synth``)."""
