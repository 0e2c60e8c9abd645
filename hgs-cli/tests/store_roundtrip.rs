//! Encode/decode pairs of the store document and the hex helpers, over arbitrary values.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use hgs_cli::hex::{hex, unhex};
use hgs_cli::store::{parse_document, serialize_document, RootSource, StoreData};
use hgs_policy::PolicyVersion;
use hgs_policy::{BaselineProfile, TpmBaseline};
use hgs_testkit::synthetic::WindowsBoot;
use proptest::prelude::*;

/// A real registration, so the typed `hgs_policy::PolicyStore` part of the document is exercised.
fn baseline() -> TpmBaseline {
    TpmBaseline::from_reference_log(
        "class-a",
        PolicyVersion::V2,
        BaselineProfile::default(),
        &WindowsBoot::default().build(),
        false,
    )
    .unwrap()
}

proptest! {
    #[test]
    fn store_document_roundtrips(
        sources in prop::collection::btree_map(".{1,10}", ".{0,16}", 0..12),
        with_baseline in any::<bool>(),
    ) {
        let mut data = StoreData::default();
        for (k, file) in &sources {
            data.root_sources.insert(k.clone(), RootSource { file: file.clone() });
        }
        if with_baseline {
            data.registrations.add_baseline(baseline()).unwrap();
        }
        let path = Path::new("store.json");
        let bytes = serialize_document(path, &data).unwrap();
        prop_assert_eq!(parse_document(path, &bytes).unwrap(), data);
    }

    #[test]
    fn hex_roundtrips(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let h = hex(&bytes);
        prop_assert_eq!(h.len(), bytes.len() * 2);
        prop_assert_eq!(unhex(&h), Some(bytes.clone()));
        prop_assert_eq!(unhex(&h.to_ascii_uppercase()), Some(bytes));
    }

    #[test]
    fn unhex_never_panics(s in ".{0,40}") {
        let _ = unhex(&s);
    }
}
