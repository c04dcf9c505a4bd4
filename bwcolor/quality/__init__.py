"""How good and how fast: evaluate, benchmark, the report, and synthetic clips for flicker.
Imports pipeline, image, models, files and the ground."""
