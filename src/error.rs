//! The library's error type: a kind (which maps one-to-one onto a C status code) and a detail message.

use std::fmt;

/// What went wrong, coarsely: each kind is one negative status code in the C ABI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// An argument is NULL, out of range, inconsistent or too short.
    InvalidArgument,
    /// The request is valid but this backend (or this build) cannot do it.
    Unsupported,
    /// There is no usable encoder device.
    NoDevice,
    /// The device is held by someone else.
    Busy,
    /// The device did not finish in time.
    Timeout,
    /// The device or its driver failed, or produced output that is not a valid JPEG.
    Device,
    /// An allocation failed.
    OutOfMemory,
    /// A bug in this library (a caught panic, a broken invariant).
    Internal,
    /// The caller's output buffer is too small for the JPEG.
    BufferTooSmall,
    /// The device exists but this process may not open it.
    PermissionDenied,
}

/// An error with a human-readable detail message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }

    pub fn device(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Device, message)
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same error with `context: ` put before its message.
    pub fn context(self, context: &str) -> Self {
        Error {
            kind: self.kind,
            message: format!("{context}: {}", self.message),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
