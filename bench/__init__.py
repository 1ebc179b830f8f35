"""`make bench`: a load generator, a bare gRPC echo baseline and real nodes, each in its own process."""
