"""vidgate: a self-hostable video generation API server."""
__version__ = "0.1.0"
