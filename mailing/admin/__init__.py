"""The mailing admin: audience, CSV import/export, campaigns and their reports."""
