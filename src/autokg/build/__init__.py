"""Building the dataset: shortcuts, release artefacts, tables, statistics and new articles."""
