//! The directory: accounts, customers, endpoints (users and phone numbers)
//! and roles. Plain data; the store persists it and the server reads it.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::{AccountId, CustomerId, EndpointId, TwilioAccountSid, UserId};

/// A password, token or key: its `Debug` prints `Secret([REDACTED])`, it has
/// no `Display`, and its memory is zeroed on drop (`secrecy`). The value is
/// read only through [`Secret::expose`], where it is used.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    /// The secret itself, for the one place that uses it.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(SecretString::from(value))
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(SecretString::from(value))
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for Secret {}

/// Stored as the plain string (the store keeps it; see `evo_store`).
impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.expose())
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret::from)
    }
}

/// A tenant. Each account maps to one Twilio account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: AccountId,
    pub name: String,
    /// The Twilio `AccountSid` (`AC…`) whose webhooks belong to this account.
    pub twilio_account_sid: Option<TwilioAccountSid>,
    /// The Twilio auth token that signs those webhooks.
    pub twilio_auth_token: Option<Secret>,
}

/// A customer of an account; customers nest through `parent_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub id: CustomerId,
    pub account_id: AccountId,
    pub parent_id: Option<CustomerId>,
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
    pub id: EndpointId,
    pub account_id: AccountId,
    pub customer_id: Option<CustomerId>,
    pub kind: EndpointKind,
    pub display_name: String,
    /// For users: the sign-in e-mail address; for numbers: the E.164 number.
    pub address: String,
    /// For phone numbers: the users it rings, in order.
    pub ring_user_ids: Vec<UserId>,
    /// For phone numbers: the queue callers wait in, when it queues.
    pub queue_name: Option<String>,
}

/// A user who can sign in. A user is also an endpoint with the same id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub account_id: AccountId,
    pub email: String,
    pub display_name: String,
    /// An argon2id PHC string; never the password itself.
    pub password_hash: String,
    pub roles: Vec<Role>,
}

/// A role a user has; ServiceStack role checks compare these names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    /// May use the per-user session operations.
    User,
    /// Manages an account's users and numbers.
    Manager,
    /// Operates the whole system.
    SystemAdministrator,
    /// ServiceStack's super-user role: passes every role check.
    Admin,
    Customer,
    CallCenterDashboard,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 6] = [
        Role::User,
        Role::Manager,
        Role::SystemAdministrator,
        Role::Admin,
        Role::Customer,
        Role::CallCenterDashboard,
    ];

    /// The names of `roles`, as tokens and responses carry them.
    pub fn names(roles: &[Role]) -> Vec<String> {
        roles.iter().map(|role| role.name().to_string()).collect()
    }

    /// The role's name, as tokens, responses and the store carry it.
    pub const fn name(self) -> &'static str {
        match self {
            Role::User => "User",
            Role::Manager => "Manager",
            Role::SystemAdministrator => "SystemAdministrator",
            Role::Admin => "Admin",
            Role::Customer => "Customer",
            Role::CallCenterDashboard => "CallCenterDashboard",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is no role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role '{0}'")]
pub struct UnknownRole(pub String);

impl std::str::FromStr for Role {
    type Err = UnknownRole;

    fn from_str(name: &str) -> Result<Self, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|role| role.name() == name)
            .ok_or_else(|| UnknownRole(name.to_string()))
    }
}

/// Well-known role names, for code that compares names (tokens).
pub mod roles {
    use super::Role;

    /// ServiceStack's super-user role: passes every role check.
    pub const ADMIN: &str = Role::Admin.name();
}

/// A customer breadcrumb entry: the path from the root customer down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Crumb {
    pub id: CustomerId,
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_stored_and_parsed_by_name() {
        for role in Role::ALL {
            assert_eq!(role.name().parse::<Role>(), Ok(role));
            assert_eq!(
                serde_json::to_string(&role).unwrap(),
                format!("\"{}\"", role.name())
            );
        }
        assert_eq!("user".parse::<Role>(), Err(UnknownRole("user".to_string())));
    }

    #[test]
    fn a_secret_never_prints() {
        let account = Account {
            id: "acc".into(),
            name: "Acme".into(),
            twilio_account_sid: None,
            twilio_auth_token: Some("hunter2-token".into()),
        };
        let printed = format!("{account:?} {:#?}", account.twilio_auth_token);
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("Secret([REDACTED])"), "{printed}");
        assert_eq!(account.twilio_auth_token.unwrap().expose(), "hunter2-token");
    }
}
