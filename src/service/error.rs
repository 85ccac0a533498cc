//! The service layer's one error type. Each variant knows whether it is the
//! caller's fault; front ends map them to HTTP codes, CLI messages, toasts.

use crate::domain::{CodeError, EmailError, IllegalTransition, Permission, Role};
use crate::store::StoreError;

/// The admin API's error code for a token that lets no one in.
pub const UNAUTHORIZED: &str = "unauthorized";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidEmail(#[from] EmailError),
    #[error("{0}")]
    InvalidCode(#[from] CodeError),
    #[error("{0}")]
    InvalidInput(String),
    /// Deliberately vague: the private reason is in the event log.
    #[error("this code cannot be used")]
    CodeUnusable,
    /// A confirmation link that is unknown, used up or expired.
    #[error("this confirmation link is not valid any more")]
    BadToken,
    /// An operator token that is missing, malformed, unknown, expired or
    /// revoked, or whose operator was removed: one answer for all, so a
    /// caller learns nothing about which.
    #[error("this token is not valid: ask an admin for a new one (velvet operator token NAME)")]
    Unauthorized,
    #[error("{0} is paused")]
    Paused(String),
    #[error("operator '{name}' is a {role} and may not {what}; an admin can change the role")]
    Forbidden { name: String, role: Role, what: &'static str },
    #[error("only operators may {0}")]
    NotAnOperator(&'static str),
    #[error("there are no operators yet: create the first admin with `velvet operator add NAME --role admin`")]
    NoOperators,
    #[error(
        "unknown operator '{0}': an admin adds it with `velvet operator add {0} --role support` (or pass --as NAME)"
    )]
    UnknownOperator(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{email}: {source}")]
    Illegal { email: String, source: IllegalTransition },
    #[error("{0}")]
    Conflict(String),
    /// A server's refusal over a context, in the server's own words
    /// (`code` is the admin API's error code).
    #[error("{message}")]
    Refused { code: String, message: String },
    /// A server out of reach, or failing: the sentence names its URL and
    /// what to check. Nothing was changed by the call.
    #[error("{0}")]
    Unreachable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Error {
    /// The token did not let anyone in: here (`Unauthorized`) or, over a
    /// context, at the server (its 401 comes back as a refusal naming the URL).
    pub fn is_unauthorized(&self) -> bool {
        match self {
            Error::Unauthorized => true,
            Error::Refused { code, .. } => code == UNAUTHORIZED,
            _ => false,
        }
    }

    pub fn forbidden(name: &str, role: Role, p: Permission) -> Error {
        Error::Forbidden { name: name.to_string(), role, what: p.describe() }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Store(e.into())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
