//! Form parameters as Twilio sends them: an ordered multimap, kept as
//! received so the signature can be checked over exactly those pairs.

/// Parameters of one webhook request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormParams {
    pairs: Vec<(String, String)>,
}

impl FormParams {
    /// Parses an `application/x-www-form-urlencoded` body or query string
    /// (`+` is a space; invalid UTF-8 is replaced, never an error).
    pub fn parse(bytes: &[u8]) -> Self {
        FormParams {
            pairs: form_urlencoded::parse(bytes).into_owned().collect(),
        }
    }

    /// Parameters from pairs.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        FormParams {
            pairs: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, treating an empty string as absent (Twilio
    /// sends empty optional fields).
    pub fn get_nonempty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.trim().is_empty())
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// All pairs as received.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// Encodes the parameters as a form body.
    pub fn encode(&self) -> String {
        let mut serializer = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.pairs {
            serializer.append_pair(k, v);
        }
        serializer.finish()
    }
}
