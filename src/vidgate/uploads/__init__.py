"""Source media a key uploads (POST /api/v1/files), kept in storage at a link usable as
`source_image` or `source_video`."""
