"""The local stack: the real handlers behind a local HTTP server, moto as AWS, demo providers."""
