//! The generated Java DTOs compile with javac, against stand-ins of the
//! ServiceStack Java client's types (tests/java-stubs). A missing javac
//! fails the test (scripts/test.sh installs a JDK); it never passes
//! without compiling (issue 9).

use std::process::Command;

#[test]
fn the_generated_java_dtos_compile() {
    assert!(
        Command::new("javac").arg("-version").output().is_ok(),
        "javac is required: apt-get install default-jdk-headless (scripts/test.sh does)"
    );
    let dir = tempfile::tempdir().unwrap();
    let source =
        evo_docs::types::document("java", "http://localhost", &[], "2026-01-01 00:00:00").unwrap();
    let file = dir.path().join("dtos.java");
    std::fs::write(&file, source).unwrap();
    let stubs = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/java-stubs/net/servicestack/client"
    );
    let mut command = Command::new("javac");
    command.arg("-d").arg(dir.path().join("out"));
    for entry in std::fs::read_dir(stubs).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "java") {
            command.arg(path);
        }
    }
    let output = command.arg(&file).output().unwrap();
    assert!(
        output.status.success(),
        "javac failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(dir.path().join("out/dtos$GetActiveSessions.class").exists());
    // The client library's own types are not redeclared (JavaGenerator.cs:331).
    assert!(!dir.path().join("out/dtos$ResponseStatus.class").exists());
}
