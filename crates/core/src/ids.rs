//! Identifier newtypes, so that a session id cannot be passed where an
//! account id is expected. Each is the same string on the wire and in the
//! store (`#[serde(transparent)]`), prints as itself, and borrows as `str`
//! so maps keyed by it are looked up with a `&str`.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an id read from a trusted source (the store, a signed
            /// request, a generated id).
            pub fn new(id: impl Into<String>) -> Self {
                $name(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                $name(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                $name(id.to_string())
            }
        }

        impl From<&String> for $name {
            fn from(id: &String) -> Self {
                $name(id.clone())
            }
        }

        impl From<&$name> for $name {
            fn from(id: &$name) -> Self {
                id.clone()
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }
    };
}

id_type!(
    /// A session's id (`ses-{account}-{CallSid}` for calls).
    SessionId
);
id_type!(
    /// An account (tenant) id.
    AccountId
);
id_type!(
    /// An endpoint id: a phone number, or a user (whose endpoint has the
    /// user's id).
    EndpointId
);
id_type!(
    /// A user id (also the id of the user's endpoint).
    UserId
);
id_type!(
    /// A Twilio Call SID (`CA…`), or a chat's conversation key.
    CallSid
);

id_type!(
    /// A Twilio Conference SID (`CF…`).
    ConferenceSid
);
id_type!(
    /// A Twilio Message SID (`SM…`/`MM…`).
    MessageSid
);
id_type!(
    /// A Twilio Queue SID (`QU…`).
    QueueSid
);
id_type!(
    /// A customer id (a sub-tenant of an account).
    CustomerId
);
id_type!(
    /// A Twilio Account SID (`AC…`): Twilio's account, not ours
    /// ([`AccountId`]); an account of ours names the Twilio account it uses.
    TwilioAccountSid
);

impl From<UserId> for EndpointId {
    /// A user's endpoint has the user's id.
    fn from(id: UserId) -> Self {
        EndpointId(id.0)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn an_id_is_its_string_on_the_wire_and_in_maps() {
        let id = SessionId::new("ses-acc-CA1");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"ses-acc-CA1\"");
        assert_eq!(
            serde_json::from_str::<SessionId>("\"ses-acc-CA1\"").unwrap(),
            id
        );
        assert_eq!(id.to_string(), "ses-acc-CA1");
        let map = BTreeMap::from([(id.clone(), 1)]);
        assert_eq!(map.get("ses-acc-CA1"), Some(&1));
        assert!(id == "ses-acc-CA1");
    }
}
