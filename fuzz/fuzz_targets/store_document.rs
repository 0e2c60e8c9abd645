//! The admin store's document parser must reject any bytes with an error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::path::Path::new("fuzz/store.json");
    if let Ok(doc) = hgs_cli::store::parse_document(path, data) {
        // Whatever parses re-serializes and parses back to the same document.
        if let Ok(bytes) = hgs_cli::store::serialize_document(path, &doc) {
            let again = hgs_cli::store::parse_document(path, &bytes);
            assert!(matches!(again, Ok(ref d) if *d == doc));
        }
    }
});
