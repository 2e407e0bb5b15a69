"""What REST and GraphQL share about serving a request, and neither owns: resources, auth, limits, headers."""
