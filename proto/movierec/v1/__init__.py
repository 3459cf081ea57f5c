"""movierec.v1: generated protobuf and gRPC code for proto/movierec/v1 (run `make proto`)."""
