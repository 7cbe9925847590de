//! The file shipper (Filebeat's job): discovery, identity, reading, multiline, checkpoints.
