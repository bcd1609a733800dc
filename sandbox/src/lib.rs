//! A local ftrack-compatible server.
