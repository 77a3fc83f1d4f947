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

/// Twilio's own hold music (the classical bucket of its `holdmusic`
/// twimlet, the default `waitUrl` of `<Conference>`):
/// <https://www.twilio.com/docs/voice/twiml/conference#attributes-waiturl>.
pub const HOLD_MUSIC_URL: &str = "http://twimlets.com/holdmusic?Bucket=com.twilio.music.classical";

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

    /// `<Dial>` to a phone number presenting `caller_id`, reporting the
    /// callee leg's progress (`callerId` omitted when empty).
    pub fn dial_number_as(
        mut self,
        action: &str,
        caller_id: &str,
        number: &str,
        status_callback: &str,
    ) -> Self {
        self.verbs.push(format!(
            "<Dial{}><Number{}>{}</Number></Dial>",
            attributes(&[("action", action), ("callerId", caller_id)]),
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

    /// `<Dial><Conference>`: joins the named conference, reporting its
    /// events (start, end, join, leave, mute, hold) to `status_callback`.
    /// `end_on_exit`: the conference ends when this participant leaves.
    pub fn dial_conference(mut self, name: &str, status_callback: &str, end_on_exit: bool) -> Self {
        self.verbs.push(format!(
            "<Dial><Conference{}>{}</Conference></Dial>",
            attributes(&[
                ("statusCallback", status_callback),
                ("statusCallbackEvent", "start end join leave mute hold"),
                ("statusCallbackMethod", "POST"),
                ("startConferenceOnEnter", "true"),
                (
                    "endConferenceOnExit",
                    if end_on_exit { "true" } else { "false" }
                ),
                ("waitUrl", HOLD_MUSIC_URL),
            ]),
            escape(name)
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
    fn text_is_escaped_and_an_empty_response_is_valid() {
        assert_eq!(TwiML::new().say("a < b & c").to_xml(), "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say>a &lt; b &amp; c</Say></Response>");
        assert_eq!(
            TwiML::new().to_xml(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>"
        );
    }
}
