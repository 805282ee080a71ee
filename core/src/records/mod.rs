//! Clinical records as Automerge documents.
//!
//! One record is one Automerge document; this module writes and reads them and derives their
//! lifecycle state and summaries. It validates input before touching a document, so invalid input
//! changes nothing. It never builds SQL and never sees keys: the vault hands it documents.

pub mod am;
pub mod chunks;
pub mod client;
pub mod conflict;
pub mod enums;
pub mod measure;
pub mod model;
pub mod note;
pub mod registry;
pub mod rupture;
pub mod session;
pub mod summary;
pub(crate) mod validate;

/// The kinds of record; the code is stored in plaintext (the design allows kinds in the clear).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    /// A client.
    Client = 1,
    /// A session.
    Session = 2,
    /// A session note.
    Note = 3,
    /// A rupture event.
    Rupture = 4,
    /// An alliance measure.
    Measure = 5,
    /// The vault registry (devices, revocations, erasures), shared by all devices.
    Registry = 6,
}

impl Kind {
    /// The kind of a stored code.
    pub fn from_code(code: u8) -> Option<Kind> {
        Some(match code {
            1 => Kind::Client,
            2 => Kind::Session,
            3 => Kind::Note,
            4 => Kind::Rupture,
            5 => Kind::Measure,
            6 => Kind::Registry,
            _ => return None,
        })
    }

    /// A lower-case name for errors.
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Client => "client",
            Kind::Session => "session",
            Kind::Note => "note",
            Kind::Rupture => "rupture",
            Kind::Measure => "alliance measure",
            Kind::Registry => "registry",
        }
    }
}
