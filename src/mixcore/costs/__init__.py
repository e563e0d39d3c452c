"""Cost records: every upstream call priced from the catalog, summed per request, sent to Firehose."""
