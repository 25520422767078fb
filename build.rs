//! Marks which test services are configured, so a test that needs a missing one is
//! `#[ignore]`d with the reason on a developer's machine (`cargo test` lists it as ignored,
//! never as passed). Under `CI=true` every service counts as configured: a test whose service
//! is then missing fails instead (tests/support `missing`).

use std::process::Command;

fn main() {
    println!("cargo::rerun-if-env-changed=CI");
    let ci = std::env::var("CI").is_ok_and(|ci| ci == "true" || ci == "1");
    for (cfg, variable) in [
        ("test_postgres", "ANOMALY_HUNTER_TEST_POSTGRES_URL"),
        ("test_tansu", "ANOMALY_HUNTER_TEST_TANSU"),
        ("test_prometheus", "ANOMALY_HUNTER_TEST_PROMETHEUS"),
        ("test_alertmanager", "ANOMALY_HUNTER_TEST_ALERTMANAGER"),
        ("test_chromedriver", "ANOMALY_HUNTER_TEST_CHROMEDRIVER"),
    ] {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        println!("cargo::rerun-if-env-changed={variable}");
        if ci || std::env::var(variable).is_ok_and(|v| !v.is_empty()) {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
    println!("cargo::rustc-check-cfg=cfg(test_espeak)");
    let speaks = Command::new("espeak-ng")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    if ci || speaks {
        println!("cargo::rustc-cfg=test_espeak");
    }
}
