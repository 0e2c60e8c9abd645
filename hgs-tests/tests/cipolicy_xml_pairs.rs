//! Where the corpus has a policy's XML source beside its binary (pairing "exact" in the manifest),
//! the parsed binary agrees with the XML itself: VersionEx, PolicyTypeID / PolicyID / BasePolicyID,
//! rule options, and the numbers of signers and file rules. The XML is read here with plain string
//! scanning (the element names are fixed by Microsoft's cipolicy.xsd).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use hgs_cipolicy::CiPolicy;

fn corpus() -> PathBuf {
    hgs_testkit::corpus("cipolicy")
}

/// Text of the first `<tag>...</tag>`.
fn element<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))?;
    Some(xml[start..start + end].trim())
}

/// The inner text of a section `<tag ...> ... </tag>` (or "" when absent or self-closed).
fn section<'a>(xml: &'a str, tag: &str) -> &'a str {
    let Some(s) = xml
        .find(&format!("<{tag}>"))
        .or_else(|| xml.find(&format!("<{tag} ")))
    else {
        return "";
    };
    let close = format!("</{tag}>");
    match xml[s..].find(&close) {
        Some(e) => &xml[s..s + e],
        None => "",
    }
}

fn count(hay: &str, needle: &str) -> usize {
    hay.matches(needle).count()
}

#[test]
fn exact_xml_pairs_agree_with_the_parsed_binaries() {
    let m: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(corpus().join("manifest.json")).unwrap()).unwrap();
    let mut checked = 0;
    for e in m
        .iter()
        .filter(|e| e["kind"] == "binary" && e["pairing"] == "exact")
    {
        let bin = std::fs::read(corpus().join(e["file"].as_str().unwrap())).unwrap();
        let xml_name = e["paired_xml"].as_str().unwrap();
        let xml = String::from_utf8(std::fs::read(corpus().join(xml_name)).unwrap()).unwrap();
        let p = CiPolicy::parse(&bin).unwrap();
        let s = p.summary();
        assert_eq!(s.version, element(&xml, "VersionEx").unwrap(), "{xml_name}");
        if let Some(t) = element(&xml, "PolicyTypeID") {
            assert_eq!(s.policy_type_id, t.to_uppercase(), "{xml_name}");
        }
        if let Some(id) = element(&xml, "PolicyID") {
            assert_eq!(s.policy_id, id.to_uppercase(), "{xml_name}");
        }
        if let Some(id) = element(&xml, "BasePolicyID") {
            assert_eq!(s.base_policy_id, id.to_uppercase(), "{xml_name}");
        }
        let rules = section(&xml, "Rules");
        let xml_options: BTreeSet<&str> = rules
            .split("<Option>")
            .skip(1)
            .filter_map(|x| x.split("</Option>").next())
            .map(str::trim)
            // Not encoded as a bit (see options.rs): the compiler drops it.
            .filter(|o| *o != "Disabled:Default Windows Certificate Remapping")
            .collect();
        let ours: BTreeSet<&str> = p.options().into_iter().collect();
        assert_eq!(ours, xml_options, "{xml_name}: options");
        let signers = section(&xml, "Signers");
        assert_eq!(
            s.counts.signers,
            count(signers, "<Signer "),
            "{xml_name}: signers"
        );
        let rules = section(&xml, "FileRules");
        let n_rules = count(rules, "<Allow ")
            + count(rules, "<Deny ")
            + count(rules, "<FileAttrib ")
            + count(rules, "<FileRule ");
        assert_eq!(s.counts.file_rules, n_rules, "{xml_name}: file rules");
        assert_eq!(
            s.audit_mode,
            xml_options.contains("Enabled:Audit Mode"),
            "{xml_name}"
        );
        checked += 1;
    }
    assert!(checked >= 20, "{checked}");
}
