//! Encode/decode pairs of the store document and the hex helpers, over arbitrary values.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use hgs_cli::hex::{hex, unhex};
use hgs_cli::store::{parse_document, serialize_document, StoreData};
use proptest::prelude::*;

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        ".{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(".{0,6}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn store_document_roundtrips(
        records in prop::collection::vec(
            ("[a-z]{1,6}", ".{1,10}", prop::option::of("v[12]"), json_value()),
            0..12,
        )
    ) {
        let mut data = StoreData::default();
        for (c, n, v, value) in &records {
            data.insert(c, n, v.as_deref(), value, true).unwrap();
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
