//! libftrack: a native client for the ftrack API.
