//! Wiring: runs source → store → cleaner → sink for every pipeline, and the commit rule.
