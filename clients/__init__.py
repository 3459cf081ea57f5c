"""movierec.clients."""
