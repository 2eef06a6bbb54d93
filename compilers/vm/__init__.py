"""The VM: executes batches of validated programs over batches of inputs."""
