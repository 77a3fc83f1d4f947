//! The directory: accounts, customers, endpoints (users and phone numbers)
//! and roles. Plain data; the store persists it and the server reads it.

use serde::{Deserialize, Serialize};

/// A tenant. Each account maps to one Twilio account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    pub name: String,
    /// The Twilio `AccountSid` (`AC…`) whose webhooks belong to this account.
    pub twilio_account_sid: Option<String>,
    /// The Twilio auth token that signs those webhooks (a secret).
    pub twilio_auth_token: Option<String>,
}

/// A customer of an account; customers nest through `parent_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub id: String,
    pub account_id: String,
    pub parent_id: Option<String>,
    pub name: String,
}

/// What an endpoint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EndpointKind {
    /// A person who signs in (softphone, app).
    User,
    /// A phone number (DID) that receives calls and messages.
    PhoneNumber,
}

impl EndpointKind {
    /// The stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            EndpointKind::User => "User",
            EndpointKind::PhoneNumber => "PhoneNumber",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "User" => Some(EndpointKind::User),
            "PhoneNumber" => Some(EndpointKind::PhoneNumber),
            _ => None,
        }
    }
}

/// Something that takes part in sessions: a user or a phone number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub id: String,
    pub account_id: String,
    pub customer_id: Option<String>,
    pub kind: EndpointKind,
    pub display_name: String,
    /// For users: the sign-in e-mail address; for numbers: the E.164 number.
    pub address: String,
    /// For phone numbers: the users it rings, in order.
    pub ring_user_ids: Vec<String>,
    /// For phone numbers: the queue callers wait in, when it queues.
    pub queue_name: Option<String>,
}

/// A user who can sign in. A user is also an endpoint with the same id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub account_id: String,
    pub email: String,
    pub display_name: String,
    /// An argon2id PHC string; never the password itself.
    pub password_hash: String,
    pub roles: Vec<String>,
}

/// Well-known role names.
pub mod roles {
    /// May use the per-user session operations.
    pub const USER: &str = "User";
    /// Manages an account's users and numbers.
    pub const MANAGER: &str = "Manager";
    /// Operates the whole system.
    pub const SYSTEM_ADMINISTRATOR: &str = "SystemAdministrator";
    /// ServiceStack's super-user role: passes every role check.
    pub const ADMIN: &str = "Admin";
    /// Every role the CLI accepts.
    pub const ALL: &[&str] = &[
        USER,
        MANAGER,
        SYSTEM_ADMINISTRATOR,
        ADMIN,
        "Customer",
        "CallCenterDashboard",
    ];
}

/// A customer breadcrumb entry: the path from the root customer down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Crumb {
    pub id: String,
    pub name: String,
}
