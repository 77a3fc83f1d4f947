//! Prints the generated DTOs of every operation in one language:
//! `cargo run -p evo-docs --example dump -- typescript`.

fn main() {
    let lang = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "typescript".to_string());
    let types = evo_core::contract::all_types();
    let options = evo_docs::lang::Options::default();
    let text = match lang.as_str() {
        "fsharp" => evo_docs::lang::fsharp::generate(&types, &options),
        "python" => evo_docs::lang::python::generate(&types, &options),
        "mjs" => evo_docs::lang::typescript::generate_mjs(&types, &options),
        _ => evo_docs::lang::typescript::generate(&types, &options),
    };
    print!("{text}");
}
