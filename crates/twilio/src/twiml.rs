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

/// A status callback URL with [`ConnectionOverrides::idempotent`], unless
/// the caller chose a fragment: evo-voice deduplicates status callbacks, so
/// Twilio may retry them.
fn retried(url: &str) -> String {
    if url.contains('#') {
        url.to_string()
    } else {
        with_connection_overrides(url, &ConnectionOverrides::idempotent())
    }
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

    /// `<Dial>` ringing clients at once; `action` gets the outcome. Each
    /// client's status callback asks Twilio for retries.
    pub fn dial_clients(mut self, action: &str, timeout_seconds: u32, clients: &[Client]) -> Self {
        let nouns: String = clients
            .iter()
            .map(|client| {
                format!(
                    "<Client{}>{}</Client>",
                    attributes(&[
                        ("statusCallback", &retried(&client.status_callback)),
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

    /// `<Dial>` to a phone number, reporting the callee leg's progress (the
    /// status callback asks Twilio for retries).
    pub fn dial_number(mut self, action: &str, number: &str, status_callback: &str) -> Self {
        self.verbs.push(format!(
            "<Dial{}><Number{}>{}</Number></Dial>",
            attributes(&[("action", action)]),
            attributes(&[
                ("statusCallback", &retried(status_callback)),
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

    /// `<Dial><Conference>` for a leg an agent action moves into the
    /// session's conference, reporting its events (start, end, join, leave,
    /// mute, hold) to `status_callback`; the participant is identified by
    /// its CallSid. `end_on_exit`: the conference ends when this participant
    /// leaves.
    pub fn join_conference(mut self, name: &str, status_callback: &str, end_on_exit: bool) -> Self {
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

/// When Twilio retries a webhook (`rp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryOn {
    /// `4xx` answers.
    ClientError,
    /// `5xx` answers.
    ServerError,
    /// `ct`: connect or TLS failure.
    Connect,
    /// `rt`: no answer within the read timeout.
    Read,
    /// `all`.
    All,
}

impl RetryOn {
    pub fn as_str(self) -> &'static str {
        match self {
            RetryOn::ClientError => "4xx",
            RetryOn::ServerError => "5xx",
            RetryOn::Connect => "ct",
            RetryOn::Read => "rt",
            RetryOn::All => "all",
        }
    }
}

/// Twilio's connection overrides, sent as the webhook URL's fragment
/// (`#ct=…&rt=…&tt=…&rc=…&rp=…`;
/// <https://www.twilio.com/docs/usage/webhooks/webhooks-connection-overrides>).
/// Values are clamped to the documented ranges: `ct` 100–10000 ms, `rt`
/// and `tt` 100–15000 ms, `rc` 0–5. Twilio does not sign the fragment, so
/// signatures are unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionOverrides {
    pub connect_timeout_ms: Option<u32>,
    pub read_timeout_ms: Option<u32>,
    pub total_time_ms: Option<u32>,
    pub retry_count: Option<u8>,
    pub retry_policy: Vec<RetryOn>,
}

impl ConnectionOverrides {
    /// For callbacks evo-voice deduplicates (status callbacks, conference
    /// events, `<Dial>`/`<Enqueue>` actions that only record, inbound
    /// messages keyed by `MessageSid`): a retry is harmless, a lost
    /// callback is not, so retry twice on connect failure, read timeout and
    /// 5xx (evo-voice answers 503 when its store fails). Not for TwiML
    /// URLs whose handler acts (a retry would re-run it).
    pub fn idempotent() -> Self {
        ConnectionOverrides {
            retry_count: Some(2),
            retry_policy: vec![RetryOn::Connect, RetryOn::Read, RetryOn::ServerError],
            ..ConnectionOverrides::default()
        }
    }

    /// The fragment, without `#`; empty when nothing is overridden.
    pub fn fragment(&self) -> String {
        let mut parts = Vec::new();
        if let Some(ms) = self.connect_timeout_ms {
            parts.push(format!("ct={}", ms.clamp(100, 10_000)));
        }
        if let Some(ms) = self.read_timeout_ms {
            parts.push(format!("rt={}", ms.clamp(100, 15_000)));
        }
        if let Some(ms) = self.total_time_ms {
            parts.push(format!("tt={}", ms.clamp(100, 15_000)));
        }
        if let Some(count) = self.retry_count {
            parts.push(format!("rc={}", count.min(5)));
        }
        if !self.retry_policy.is_empty() {
            let policy: Vec<&str> = self.retry_policy.iter().map(|r| r.as_str()).collect();
            parts.push(format!("rp={}", policy.join(",")));
        }
        parts.join("&")
    }
}

/// `url` with `overrides` as its fragment (replacing any fragment it had).
pub fn with_connection_overrides(url: &str, overrides: &ConnectionOverrides) -> String {
    let base = url.split('#').next().unwrap_or(url);
    let fragment = overrides.fragment();
    if fragment.is_empty() {
        base.to_string()
    } else {
        format!("{base}#{fragment}")
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
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Dial action=\"https://v.test/twilio/dial?s=1&amp;t=2\" timeout=\"20\"><Client statusCallback=\"https://v.test/twilio/status?s=1#rc=2&amp;rp=ct,rt,5xx\" statusCallbackEvent=\"initiated ringing answered completed\" statusCallbackMethod=\"POST\">alice</Client></Dial></Response>"
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
    #[test]
    fn connection_overrides_are_the_url_fragment_within_documented_ranges() {
        // The docs' example: https://host/path?x=1#ct=1000&rc=2&rp=ct,rt
        let overrides = ConnectionOverrides {
            connect_timeout_ms: Some(1000),
            retry_count: Some(2),
            retry_policy: vec![RetryOn::Connect, RetryOn::Read],
            ..ConnectionOverrides::default()
        };
        assert_eq!(
            with_connection_overrides("https://host/path?x=1", &overrides),
            "https://host/path?x=1#ct=1000&rc=2&rp=ct,rt"
        );
        // An old fragment is replaced; values are clamped.
        let wild = ConnectionOverrides {
            connect_timeout_ms: Some(50_000),
            read_timeout_ms: Some(1),
            total_time_ms: Some(99_999),
            retry_count: Some(9),
            retry_policy: vec![RetryOn::All],
        };
        assert_eq!(
            with_connection_overrides("https://v.test/twilio/status#rc=1", &wild),
            "https://v.test/twilio/status#ct=10000&rt=100&tt=15000&rc=5&rp=all"
        );
        assert_eq!(
            with_connection_overrides("https://v.test/a#x", &ConnectionOverrides::default()),
            "https://v.test/a"
        );
        assert_eq!(
            with_connection_overrides(
                "https://v.test/twilio/status?s=1",
                &ConnectionOverrides::idempotent()
            ),
            "https://v.test/twilio/status?s=1#rc=2&rp=ct,rt,5xx"
        );
    }

    #[test]
    fn the_fragment_is_not_signed() {
        use crate::params::FormParams;
        use crate::signature::{compute_signature, validate};
        let params = FormParams::from_pairs([("CallSid".to_string(), "CA1".to_string())]);
        let plain = "https://v.test/twilio/status?s=1";
        let with = with_connection_overrides(plain, &ConnectionOverrides::idempotent());
        assert_eq!(
            compute_signature("tok", &with, &params),
            compute_signature("tok", plain, &params)
        );
        // Twilio requests the URL without its fragment; that verifies.
        let signature = compute_signature("tok", &with, &params);
        assert!(validate(&["tok"], plain, &params, b"", Some(&signature)).is_ok());
    }
}
