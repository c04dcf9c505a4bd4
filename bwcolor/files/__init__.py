"""Files in and out: decoding and encoding pictures, their metadata, atomic writes, formats,
the expansion of inputs, and colour-hint files. Imports only the ground (lab, errors)."""
