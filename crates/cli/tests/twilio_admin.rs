//! `evo-voice number configure` against a fake Twilio REST API
//! (`evo_twilio::fake::FakeTwilio`: documented IncomingPhoneNumber JSON,
//! Basic auth checked, requests recorded), and `account token add|remove`.

use std::path::Path;
use std::process::Output;

use evo_twilio::fake::{FakeNumber, FakeTwilio};

/// An AccountSid and number SID in Twilio's documented shapes
/// (`AC`/`PN` + 32 hex digits).
const SID: &str = "AC0123456789abcdef0123456789abc555";
const TOKEN: &str = "configure-token";
const PN: &str = "PN0123456789abcdef0123456789abc555";
const NUMBER: &str = "+14158675309";

/// Runs the binary off the runtime's workers (the fake serves on them).
async fn evo(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_evo-voice"));
    command
        .args(args)
        .env("EVO_DATA_DIR", data_dir)
        .env_remove("EVO_DATABASE_URL")
        .env_remove("EVO_PUBLIC_URL")
        .env_remove("EVO_TWILIO_API_URL");
    for (name, value) in env {
        command.env(name, value);
    }
    tokio::task::spawn_blocking(move || command.output().expect("running evo-voice"))
        .await
        .unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn last_line(output: &Output) -> String {
    stdout(output).lines().last().unwrap().trim().to_string()
}

const EXPECTED: [(&str, &str); 6] = [
    ("VoiceUrl", "https://voice.example.com/twilio/voice"),
    ("VoiceMethod", "POST"),
    (
        "StatusCallback",
        "https://voice.example.com/twilio/status#rc=2&rp=ct,rt,5xx",
    ),
    ("StatusCallbackMethod", "POST"),
    (
        "SmsUrl",
        "https://voice.example.com/twilio/sms#rc=2&rp=ct,rt,5xx",
    ),
    ("SmsMethod", "POST"),
];

#[tokio::test(flavor = "multi_thread")]
async fn number_configure_sets_the_webhooks_through_twilios_rest_api() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let twilio = FakeTwilio::start().await.unwrap();
    twilio.add_account(SID, TOKEN);
    twilio.insert_number(SID, FakeNumber::new(PN, NUMBER));
    twilio.insert_number(
        SID,
        FakeNumber::new("PN0123456789abcdef0123456789abc556", "+14158675310"),
    );
    let account = last_line(
        &evo(
            data,
            &[
                "account",
                "add",
                "Configured",
                "--twilio-account-sid",
                SID,
                "--twilio-auth-token",
                TOKEN,
            ],
            &[],
        )
        .await,
    );
    let configure = [
        "number",
        "configure",
        "--account",
        &account,
        "--number",
        NUMBER,
    ];

    // No public URL: a clear error, nothing asked of Twilio.
    let missing = evo(
        data,
        &configure,
        &[("EVO_TWILIO_API_URL", twilio.base_url())],
    )
    .await;
    assert!(!missing.status.success());
    let message = String::from_utf8_lossy(&missing.stderr);
    assert!(message.contains("EVO_PUBLIC_URL"), "{message}");
    assert!(twilio.requests().is_empty());

    // Dry run: prints exactly what to set, asks nothing.
    let dry = evo(
        data,
        &[&configure[..], &["--dry-run"]].concat(),
        &[
            ("EVO_TWILIO_API_URL", twilio.base_url()),
            ("EVO_PUBLIC_URL", "https://voice.example.com/"),
        ],
    )
    .await;
    let printed = stdout(&dry);
    for (name, value) in EXPECTED {
        assert!(printed.contains(&format!("{name}={value}\n")), "{printed}");
    }
    assert!(twilio.requests().is_empty());

    // For real.
    let done = evo(
        data,
        &[
            &configure[..],
            &["--public-url", "https://voice.example.com"],
        ]
        .concat(),
        &[("EVO_TWILIO_API_URL", twilio.base_url())],
    )
    .await;
    assert_eq!(last_line(&done), PN);
    let requests = twilio.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    let list = &requests[0];
    assert_eq!(list.method, "GET");
    assert_eq!(
        list.path,
        format!("/2010-04-01/Accounts/{SID}/IncomingPhoneNumbers.json")
    );
    assert_eq!(
        list.query,
        vec![("PhoneNumber".to_string(), NUMBER.to_string())]
    );
    assert_eq!(list.basic_user.as_deref(), Some(SID));
    let update = &requests[1];
    assert_eq!(update.method, "POST");
    assert_eq!(
        update.path,
        format!("/2010-04-01/Accounts/{SID}/IncomingPhoneNumbers/{PN}.json")
    );
    assert_eq!(update.basic_user.as_deref(), Some(SID));
    let form: Vec<(&str, &str)> = update
        .form
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(form, EXPECTED);
    let stored = twilio.number(SID, PN).unwrap();
    assert_eq!(
        stored.voice_url.as_deref(),
        Some("https://voice.example.com/twilio/voice")
    );
    // The other number is untouched.
    let other = twilio
        .number(SID, "PN0123456789abcdef0123456789abc556")
        .unwrap();
    assert_eq!(other.voice_url, None);

    // A number the Twilio account does not have: an error naming it.
    let unknown = evo(
        data,
        &[
            "number",
            "configure",
            "--account",
            &account,
            "--number",
            "+14155550000",
        ],
        &[
            ("EVO_TWILIO_API_URL", twilio.base_url()),
            ("EVO_PUBLIC_URL", "https://voice.example.com"),
        ],
    )
    .await;
    assert!(!unknown.status.success());
    let message = String::from_utf8_lossy(&unknown.stderr);
    assert!(message.contains("has no number +14155550000"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_without_credentials_gets_the_settings_printed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let account = last_line(&evo(data, &["account", "add", "Manual"], &[]).await);
    let output = evo(
        data,
        &[
            "number",
            "configure",
            "--account",
            &account,
            "--number",
            NUMBER,
        ],
        &[("EVO_PUBLIC_URL", "https://voice.example.com")],
    )
    .await;
    let printed = stdout(&output);
    assert!(printed.contains("no Twilio credentials"), "{printed}");
    for (name, value) in EXPECTED {
        assert!(printed.contains(&format!("{name}={value}\n")), "{printed}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn account_tokens_are_added_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let account = last_line(
        &evo(
            data,
            &[
                "account",
                "add",
                "Rotating",
                "--twilio-account-sid",
                SID,
                "--twilio-auth-token",
                "old-token",
            ],
            &[],
        )
        .await,
    );
    let token = |verb: &'static str, value: &'static str| {
        let account = account.clone();
        async move {
            evo(
                data,
                &[
                    "account",
                    "token",
                    verb,
                    "--account",
                    &account,
                    "--token",
                    value,
                ],
                &[],
            )
            .await
        }
    };
    let added = token("add", "new-token").await;
    assert_eq!(last_line(&added), account);
    assert!(stdout(&added).contains("accepts 2 auth token(s)"));
    // Secrets never print.
    assert!(!stdout(&added).contains("new-token"));
    assert!(
        !token("add", "new-token").await.status.success(),
        "duplicate"
    );
    let removed = token("remove", "old-token").await;
    assert!(stdout(&removed).contains("accepts 1 auth token(s)"));
    let last = token("remove", "new-token").await;
    assert!(!last.status.success());
    assert!(String::from_utf8_lossy(&last.stderr).contains("only token"));
}
