//! Embeds the built tracker (tracker/dist, made by scripts/build-tracker.sh) so
//! the Worker can serve it precompressed. When it has not been built, empty
//! placeholders keep `cargo check`/`clippy` working and `/t.js` answers 503.
use std::path::{Path, PathBuf};

fn main() {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tracker/dist");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    println!("cargo:rerun-if-changed={}", dist.display());
    for name in [
        "t.js",
        "t.js.gz",
        "t.js.br",
        "t.wasm",
        "t.wasm.gz",
        "t.wasm.br",
        "t.js.etag",
        "t.wasm.etag",
    ] {
        let src = dist.join(name);
        println!("cargo:rerun-if-changed={}", src.display());
        let bytes = std::fs::read(&src).unwrap_or_default();
        std::fs::write(out.join(name), bytes).expect("write OUT_DIR");
    }
}
