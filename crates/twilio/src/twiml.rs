//! The TwiML evo-voice answers with, built with correct XML escaping.

/// A TwiML `<Response>` under construction.
#[derive(Debug, Default, Clone)]
pub struct TwiML {
    verbs: Vec<String>,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn attributes(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| format!(" {name}=\"{}\"", escape(value)))
        .collect()
}

/// One `<Client>` to ring inside a `<Dial>`, with its status callback.
#[derive(Debug, Clone)]
pub struct Client {
    pub identity: String,
    pub status_callback: String,
}

impl TwiML {
    /// An empty response (for messages: no reply).
    pub fn new() -> Self {
        TwiML::default()
    }

    /// `<Say>`.
    pub fn say(mut self, text: &str) -> Self {
        self.verbs.push(format!("<Say>{}</Say>", escape(text)));
        self
    }

    /// `<Dial>` ringing clients at once; `action` gets the outcome.
    pub fn dial_clients(mut self, action: &str, timeout_seconds: u32, clients: &[Client]) -> Self {
        let nouns: String = clients
            .iter()
            .map(|client| {
                format!(
                    "<Client{}>{}</Client>",
                    attributes(&[
                        ("statusCallback", &client.status_callback),
                        (
                            "statusCallbackEvent",
                            "initiated ringing answered completed"
                        ),
                        ("statusCallbackMethod", "POST"),
                    ]),
                    escape(&client.identity)
                )
            })
            .collect();
        self.verbs.push(format!(
            "<Dial{}>{nouns}</Dial>",
            attributes(&[
                ("action", action),
                ("timeout", &timeout_seconds.to_string())
            ])
        ));
        self
    }

    /// `<Dial>` to a phone number, reporting the callee leg's progress.
    pub fn dial_number(mut self, action: &str, number: &str, status_callback: &str) -> Self {
        self.verbs.push(format!(
            "<Dial{}><Number{}>{}</Number></Dial>",
            attributes(&[("action", action)]),
            attributes(&[
                ("statusCallback", status_callback),
                (
                    "statusCallbackEvent",
                    "initiated ringing answered completed"
                ),
                ("statusCallbackMethod", "POST"),
            ]),
            escape(number)
        ));
        self
    }

    /// `<Enqueue>` into a named queue.
    pub fn enqueue(mut self, queue: &str, action: &str, wait_url: &str) -> Self {
        self.verbs.push(format!(
            "<Enqueue{}>{}</Enqueue>",
            attributes(&[("action", action), ("waitUrl", wait_url)]),
            escape(queue)
        ));
        self
    }

    /// `<Dial><Queue url>`: an agent's call takes the longest-waiting caller
    /// out of `queue`; Twilio requests `url` for the dequeued caller with
    /// `DequeingCallSid` (the agent's call).
    /// <https://www.twilio.com/docs/voice/twiml/queue>
    pub fn dial_queue(mut self, action: &str, queue: &str, url: &str) -> Self {
        self.verbs.push(format!(
            "<Dial{}><Queue{}>{}</Queue></Dial>",
            attributes(&[("action", action)]),
            attributes(&[("url", url)]),
            escape(queue)
        ));
        self
    }

    /// `<Dial><Conference>` with the participant's label (`customer`,
    /// `agent:<user>`, `transfer:<user>`), so conference callbacks name the
    /// participant; every path sends the same status callback and events,
    /// since the first participant's settings win.
    /// <https://www.twilio.com/docs/voice/twiml/conference>
    pub fn dial_conference(
        mut self,
        action: &str,
        room: &str,
        participant_label: &str,
        status_callback: &str,
    ) -> Self {
        self.verbs.push(format!(
            "<Dial{}><Conference{}>{}</Conference></Dial>",
            attributes(&[("action", action)]),
            attributes(&[
                ("participantLabel", participant_label),
                ("statusCallback", status_callback),
                (
                    "statusCallbackEvent",
                    "start end join leave mute hold modify"
                ),
                ("statusCallbackMethod", "POST"),
            ]),
            escape(room)
        ));
        self
    }

    /// `<Hangup>`.
    pub fn hangup(mut self) -> Self {
        self.verbs.push("<Hangup/>".to_string());
        self
    }

    /// The document.
    pub fn to_xml(&self) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>{}</Response>",
            self.verbs.concat()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dial_rings_every_client_with_status_callbacks() {
        let xml = TwiML::new()
            .dial_clients(
                "https://v.test/twilio/dial?s=1&t=2",
                20,
                &[Client {
                    identity: "alice".into(),
                    status_callback: "https://v.test/twilio/status?s=1".into(),
                }],
            )
            .to_xml();
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Dial action=\"https://v.test/twilio/dial?s=1&amp;t=2\" timeout=\"20\"><Client statusCallback=\"https://v.test/twilio/status?s=1\" statusCallbackEvent=\"initiated ringing answered completed\" statusCallbackMethod=\"POST\">alice</Client></Dial></Response>"
        );
    }

    #[test]
    fn queue_and_conference_dials_carry_their_urls_and_label() {
        assert_eq!(
            TwiML::new()
                .dial_queue("https://v.test/twilio/dial?dequeue=1", "support", "https://v.test/twilio/queue?user=u2")
                .to_xml(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Dial action=\"https://v.test/twilio/dial?dequeue=1\"><Queue url=\"https://v.test/twilio/queue?user=u2\">support</Queue></Dial></Response>"
        );
        let xml = TwiML::new()
            .dial_conference(
                "https://v.test/twilio/dial",
                "room-1",
                "agent:u2",
                "https://v.test/twilio/conference",
            )
            .to_xml();
        assert!(xml.contains("<Conference participantLabel=\"agent:u2\" statusCallback=\"https://v.test/twilio/conference\""), "{xml}");
    }

    #[test]
    fn text_is_escaped_and_an_empty_response_is_valid() {
        assert_eq!(TwiML::new().say("a < b & c").to_xml(), "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say>a &lt; b &amp; c</Say></Response>");
        assert_eq!(
            TwiML::new().to_xml(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>"
        );
    }
}
