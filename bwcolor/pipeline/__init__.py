"""Many files colorized: photos in batches, films frame by frame with their temporal
stabiliser, folders and globs, clusters. Imports image, models, files and the ground."""
