//! libftrack: a native client for the ftrack API.
//!
//! The Rust core: [`Session`] (start-up, queries, identity map, recorded operations,
//! commit), [`Entity`] handles with typed attribute access, [`Value`], and typed
//! [`Error`]s. A [`Session`] is `Send + Sync`; see the `session` module for the
//! locking rules.
//!
//! ```no_run
//! let session = ftrack::Session::new(None, None, None)?; // from FTRACK_* variables
//! for user in session.query("select username from User where is_active is true")? {
//!     println!("{}", user.get_string("username")?);
//! }
//! # Ok::<(), ftrack::Error>(())
//! ```

#![warn(missing_docs)]

mod atomic_file;
mod config;
mod datetime;
mod decode;
mod entity;
mod error;
pub mod event;
pub mod hooks;
mod identity_map;
mod in_flight;
mod json_reader;
mod operations;
pub mod pending;
mod persistent_cache;
mod query;
pub mod roles;
mod schema;
mod session;
mod tls;
mod transport;
mod value;

pub use config::{SchemaCache, SessionOptions};
pub use entity::Entity;
pub use error::{Error, ErrorKind, Result, ServerError};
pub use event::{Event, EventHub, EventHubOptions};
pub use pending::Action;
pub use session::{
    AttributeSchema, DerivedCollection, DerivedEdits, EntitySchema, QueryCursor, Session, quote,
};
pub use value::Value;
