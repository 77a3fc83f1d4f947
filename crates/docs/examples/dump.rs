//! Prints the generated DTOs of every operation in one language:
//! `cargo run -p evo-docs --example dump -- typescript`.

fn main() {
    let lang = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "typescript".to_string());
    match evo_docs::types::document(&lang, "http://localhost:8080", &[], "2026-01-01 00:00:00") {
        Ok(text) => print!("{text}"),
        Err(error) => eprintln!("{error}"),
    }
}
