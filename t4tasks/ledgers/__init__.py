"""The audit trail: append-only ledgers, recording results, observed blocks, shard merges."""
