//! Pipeline configuration: YAML files → validated, compiled plans.
