"""One module per Graph Transform Tool transform; each defines `transform`."""
