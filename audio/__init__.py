"""Audio input for Attune: decoding, sources and recording. Never imports Qt."""
