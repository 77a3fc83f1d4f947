//! The TwiML the simulator executes: the verbs evo-voice answers with
//! (`<Dial>` with `<Client>`, `<Number>` or `<Conference>` nouns,
//! `<Enqueue>`, `<Hangup>`), read into a small tree. Other verbs (`<Say>`,
//! `<Play>`, `<Pause>`) take no time in the simulator and are skipped.
//! What each verb does is Twilio's documented behaviour:
//! <https://www.twilio.com/docs/voice/twiml/dial>,
//! <https://www.twilio.com/docs/voice/twiml/conference>,
//! <https://www.twilio.com/docs/voice/twiml/enqueue>,
//! <https://www.twilio.com/docs/voice/twiml/hangup>.

use std::collections::BTreeMap;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// A verb or a noun: its name, attributes, text and children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub attributes: BTreeMap<String, String>,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// The verbs of a `<Response>` document, in order; `None` when it is not TwiML.
pub fn verbs(xml: &str) -> Option<Vec<Element>> {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        match reader.read_event().ok()? {
            Event::Start(start) => stack.push(element(&start)?),
            Event::Empty(start) => {
                let done = element(&start)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => root = Some(done),
                }
            }
            Event::Text(text) => {
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(text.unescape().ok()?.trim());
                }
            }
            Event::End(_) => {
                let done = stack.pop()?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => root = Some(done),
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let root = root?;
    (root.name == "Response").then_some(root.children)
}

fn element(start: &BytesStart<'_>) -> Option<Element> {
    let name = String::from_utf8(start.name().as_ref().to_vec()).ok()?;
    let mut attributes = BTreeMap::new();
    for attribute in start.attributes() {
        let attribute = attribute.ok()?;
        let key = String::from_utf8(attribute.key.as_ref().to_vec()).ok()?;
        let value = attribute.unescape_value().ok()?.into_owned();
        attributes.insert(key, value);
    }
    Some(Element {
        name,
        attributes,
        ..Element::default()
    })
}

/// A callback URL as Twilio requests it: without the `#` fragment of
/// connection overrides (Twilio reads them, never sends or signs them).
pub fn without_fragment(url: &str) -> String {
    url.split('#').next().unwrap_or(url).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::twiml::{Client, TwiML};

    #[test]
    fn reads_the_dial_evo_voice_answers_with() {
        let xml = TwiML::new()
            .say("One moment")
            .dial_clients(
                "https://voice.example.com/twilio/dial?session=s1",
                25,
                &[Client {
                    identity: "u1".into(),
                    status_callback: "https://voice.example.com/twilio/status?session=s1&user=u1"
                        .into(),
                }],
            )
            .to_xml();
        let verbs = verbs(&xml).expect("TwiML");
        assert_eq!(verbs.len(), 2);
        let dial = &verbs[1];
        assert_eq!(dial.name, "Dial");
        assert_eq!(
            dial.attribute("action"),
            Some("https://voice.example.com/twilio/dial?session=s1")
        );
        assert_eq!(dial.children[0].name, "Client");
        assert_eq!(dial.children[0].text, "u1");
        let callback = dial.children[0].attribute("statusCallback").expect("set");
        assert_eq!(
            without_fragment(callback),
            "https://voice.example.com/twilio/status?session=s1&user=u1"
        );
    }

    #[test]
    fn hangup_and_non_twiml() {
        let verbs = verbs(&TwiML::new().hangup().to_xml()).expect("TwiML");
        assert_eq!(verbs[0].name, "Hangup");
        assert_eq!(super::verbs("{\"json\":true}"), None);
    }
}
