//! The ftrack query language: lexing, parsing, translation to SQL and
//! loading of projections.

pub mod ast;
pub mod lexer;
pub mod load;
pub mod parser;
pub mod sql;

pub use parser::parse;
