//! The `grok` step and its embedded pattern library (compatible with Logstash's by name and
//! captured fields).
