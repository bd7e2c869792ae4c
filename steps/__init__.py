"""Step definitions: one sentence → one engine call → one check."""
