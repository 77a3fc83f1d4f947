//! CSV formula injection (issue 16, "Injection"): caller text that a
//! spreadsheet would evaluate is written as OWASP recommends
//! (https://owasp.org/www-community/attacks/CSV_Injection): a single quote
//! prepended and the cell quoted. Numbers are not caller text and stay as
//! they are. Each CSV is read back with the `csv` crate, as an importer
//! would.

use evo_core::api::sessions::{GetActiveSessionsResponse, SessionInfo};
use evo_core::contract::{Contract, Field};
use evo_wire::csv::write_response;
use proptest::prelude::*;

/// A test-only DTO with number members, as the served contract has none.
#[derive(Contract, Debug, Clone, PartialEq, Default)]
#[contract(namespace = "Voice.Api.Probe")]
pub struct Ledger {
    pub label: Option<String>,
    pub balance: i32,
    pub rate: f64,
    pub total: i64,
}

fn read(csv: &[u8]) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(csv)
        .records()
        .map(|record| record.unwrap().iter().map(str::to_string).collect())
        .collect()
}

fn session_row(session: SessionInfo) -> (String, Vec<Vec<String>>) {
    let bytes = write_response(
        &GetActiveSessionsResponse {
            sessions: vec![session],
        }
        .to_value(),
    );
    let text = String::from_utf8(bytes.clone()).unwrap();
    (text, read(&bytes))
}

fn column<'a>(rows: &'a [Vec<String>], name: &str) -> &'a str {
    let index = rows[0].iter().position(|h| h == name).unwrap();
    &rows[1][index]
}

#[test]
fn caller_formulas_in_session_fields_are_written_as_text() {
    // The attack: a caller sets their caller-ID name (or any text that ends
    // up in a session) to a formula, and an agent exports /sessions/active
    // as CSV and opens it in a spreadsheet.
    let session = SessionInfo {
        from_name: Some(r#"=HYPERLINK("http://evil","x")"#.into()),
        from_address: Some("+1 555".into()),
        destination: Some("-2+3".into()),
        outcome: Some("@SUM(A1)".into()),
        to_address: Some("\t=1+1".into()),
        display_name: Some("\r=1+1".into()),
        customer_name: Some("Acme, Inc".into()),
        account_name: Some("a=b".into()),
        // Split at `;` by spreadsheets in `;`-separator locales.
        console_data: Some("x;=1+1".into()),
        ..Default::default()
    };
    let (text, rows) = session_row(session);
    assert!(
        text.contains(r#","'=HYPERLINK(""http://evil"",""x"")","#),
        "{text}"
    );
    assert!(text.contains(r#","'+1 555","#), "{text}");
    assert!(text.contains(r#","'-2+3","#), "{text}");
    assert!(text.contains(r#","'@SUM(A1)","#), "{text}");
    assert_eq!(rows.len(), 2, "{text}");
    assert_eq!(rows[0].len(), rows[1].len());
    assert_eq!(
        column(&rows, "fromName"),
        r#"'=HYPERLINK("http://evil","x")"#
    );
    assert_eq!(column(&rows, "fromAddress"), "'+1 555");
    assert_eq!(column(&rows, "destination"), "'-2+3");
    assert_eq!(column(&rows, "outcome"), "'@SUM(A1)");
    assert_eq!(column(&rows, "toAddress"), "'\t=1+1");
    assert_eq!(column(&rows, "displayName"), "'\r=1+1");
    // Harmless text is untouched (quoted only where RFC 4180 needs it).
    assert_eq!(column(&rows, "customerName"), "Acme, Inc");
    assert_eq!(column(&rows, "accountName"), "a=b");
    assert!(text.contains(",a=b,"), "{text}");
    assert!(text.contains(r#","x;=1+1","#), "{text}");
    assert_eq!(column(&rows, "consoleData"), "x;=1+1");
}

#[test]
fn negative_numbers_stay_numbers_but_the_same_text_is_neutralised() {
    let ledger = Ledger {
        label: Some("-5".into()),
        balance: -5,
        rate: -2.5,
        total: -9_000_000_000,
    };
    let text = String::from_utf8(write_response(&ledger.to_value())).unwrap();
    assert_eq!(
        text,
        "label,balance,rate,total\r\n\"'-5\",-5,-2.5,-9000000000\r\n"
    );
    let rows = read(text.as_bytes());
    assert_eq!(rows[1], ["'-5", "-5", "-2.5", "-9000000000"]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any text reads back as itself, or with one quote prepended exactly
    /// when it starts with a formula character; a written cell never starts
    /// with one (after its opening quote).
    #[test]
    fn any_text_reads_back_and_never_starts_a_formula(
        text in prop_oneof!["[=+\\-@\t\r]?\\PC{0,12}", "[-=+@\t\r\",;\n a-z0-9]{0,12}"],
        balance in any::<i32>(),
    ) {
        let ledger = Ledger { label: Some(text.clone()), balance, rate: 0.5, total: 1 };
        let bytes = write_response(&ledger.to_value());
        let rows = read(&bytes);
        let dangerous = text.starts_with(['=', '+', '-', '@', '\t', '\r']);
        let expected = if dangerous { format!("'{text}") } else { text.clone() };
        prop_assert_eq!(&rows[1][0], &expected);
        prop_assert_eq!(&rows[1][1], &balance.to_string());
        let line = String::from_utf8(bytes).unwrap();
        let first_cell = line.split("\r\n").nth(1).unwrap();
        let unquoted = first_cell.strip_prefix('"').unwrap_or(first_cell);
        prop_assert!(!unquoted.starts_with(['=', '+', '-', '@', '\t', '\r']), "{}", first_cell);
    }
}
