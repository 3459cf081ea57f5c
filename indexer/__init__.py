"""movierec.indexer."""
