"""Content ids, memos, forked work, atomic writes and doit's checker and state; no domain."""
