"""Who may do what: accounts and tokens, permissions from metadata, the hash-chained
audit log and sign-in throttling."""
