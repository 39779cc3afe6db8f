//! The error type of the core. The Python layer maps each kind to a Python exception class.

use std::fmt;

/// What went wrong, with a message that names the bad input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// An argument was rejected before anything changed (shape, value, duplicate id, ...).
    InvalidInput(String),
    /// An id that is not in the index.
    NotFound(String),
    /// A saved index file that cannot be read back.
    Corrupt(String),
    /// The operating system refused a file operation.
    Io(String),
}

/// Result alias used across the crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidInput(msg.into())
    }

    pub(crate) fn corrupt(msg: impl Into<String>) -> Self {
        Error::Corrupt(msg.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidInput(m) | Error::NotFound(m) | Error::Corrupt(m) | Error::Io(m) => {
                f.write_str(m)
            }
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e.to_string())
    }
}
