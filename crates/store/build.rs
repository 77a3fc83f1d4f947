//! Rebuilds the store when a migration file is added or changed:
//! `sqlx::migrate!` embeds `migrations/` at compile time, and cargo does
//! not otherwise see a new file there (an incremental build kept serving
//! the old list; sqlx's own `sqlx migrate build-script` writes the same).

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
