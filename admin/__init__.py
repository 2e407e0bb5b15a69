"""`orders-admin`: the operators' command line (roles today; one module per group of subcommands)."""
