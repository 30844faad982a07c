"""What the repository declares: config, discovery, manifests, the registry and its documents."""
