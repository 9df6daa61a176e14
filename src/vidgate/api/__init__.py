"""HTTP only: routes, wire schemas (NovaKit's snake/camel casing lives here), errors."""
