"""Training: the loop (trainer), its data (dataset), several processes (distributed) and
the resumable state. Imports models, files and the ground."""
