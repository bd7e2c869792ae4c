"""Settings modules: `base` holds everything shared, `staging` is what the servers use."""
