//! Rendering of library diagnostics as miette reports (to be written).
