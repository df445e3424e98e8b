"""Storage of apps' records: generated tables, publish-time migrations, the record
service, list queries, typed values, files, comments, CSV import, fixtures and reports."""
