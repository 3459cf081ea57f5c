"""movierec.server."""
