//! The durable partitioned log (the YAML `buffer:`): topics, partitions, segments, groups.
