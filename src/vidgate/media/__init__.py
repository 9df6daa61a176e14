"""Media facts and helpers shared by the API, the catalog and the engine."""
