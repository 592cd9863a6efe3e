//! JSON Schema of the two formats (to be completed in this issue).
