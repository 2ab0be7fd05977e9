use thiserror::Error;

/// Why a value from outside could not become one of the protocol's types.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error("{what} is longer than {max} characters")]
    TooLong { what: &'static str, max: usize },
    #[error("{what} is shorter than {min} characters")]
    TooShort { what: &'static str, min: usize },
    #[error("{what} contains a character outside {allowed}")]
    BadCharacter { what: &'static str, allowed: &'static str },
    #[error("{what} is not valid: {why}")]
    Invalid { what: &'static str, why: &'static str },
}
