"""Single Window gateway node: authenticates, translates, seals, routes, stores and forwards documents."""
