"""AArch64 MMU conformance harness: case files, record parsing and register decoders."""
