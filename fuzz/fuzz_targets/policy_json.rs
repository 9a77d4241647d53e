//! policy.json: vouch's strict JSON layer (`verify/src/json`) and the policy
//! reader on top of it, differential against serde_json on validity.
//!
//! Whenever the strict reader accepts a document, serde_json must accept it
//! too and read the same value (the strict reader may refuse more:
//! duplicates, unknown keys, wrong types are the policy layer's business).
//! Where the strict reader deliberately follows Go's `encoding/json` and
//! serde_json does not, the comparison is adjusted, never skipped:
//!
//! * invalid UTF-8 inside strings becomes U+FFFD (Go): serde_json reads the
//!   document with the same replacement applied first;
//! * a lone UTF-16 surrogate escape becomes U+FFFD (Go): serde_json refuses
//!   it, so the document is compared after replacing such escapes by `\ufffd`;
//! * nesting beyond serde_json's 128 levels and numbers beyond f64 are
//!   accepted by the syntax layer (Go's limit is 10000 levels; numbers keep
//!   their text) — but never by the policy reader, whose schema has neither.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value as Serde;
use vouch_verify::json::{parse_document, Spanned, Value};
use vouch_verify::policy::Policy;

fuzz_target!(|data: &[u8]| {
    let strict = parse_document(data);
    let policy = Policy::parse(data);
    if let Ok(doc) = &strict {
        // The linter's route: the same checks on an already parsed tree.
        let from_doc = Policy::from_document(doc);
        assert_eq!(
            policy.as_ref().ok(),
            from_doc.as_ref().ok(),
            "Policy::parse and Policy::from_document disagree"
        );
    } else {
        assert!(
            policy.is_err(),
            "policy accepted where the syntax layer refused"
        );
        return;
    }
    let Ok(doc) = strict else { return };

    let text = go_normalised(data);
    let theirs: Serde = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            let msg = e.to_string();
            let deep = msg.starts_with("recursion limit exceeded");
            let huge = msg.starts_with("number out of range");
            assert!(
                (deep || huge) && policy.is_err(),
                "strict reader accepted what serde_json refuses ({msg}), policy ok: {}: {:?}",
                policy.is_ok(),
                String::from_utf8_lossy(data)
            );
            return;
        }
    };
    let ours = to_serde(&doc);
    assert!(
        same(&ours, &theirs),
        "values differ:\n ours   {ours:?}\n serde  {theirs:?}\n input {:?}",
        String::from_utf8_lossy(data)
    );
});

/// The document as Go's decoder sees it: invalid UTF-8 replaced, and lone
/// surrogate escapes spelled as the U+FFFD they decode to.
fn go_normalised(data: &[u8]) -> String {
    let text = String::from_utf8_lossy(data);
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut in_string = false;
    while i < b.len() {
        let c = b[i];
        if !in_string {
            in_string = c == b'"';
            out.push(char::from(c));
            i += 1;
            continue;
        }
        match c {
            b'"' => {
                in_string = false;
                out.push('"');
                i += 1;
            }
            b'\\' if b.get(i + 1) == Some(&b'u') => {
                let unit = |at: usize| -> Option<u32> {
                    let h = text.get(at..at + 4)?;
                    if !h.bytes().all(|x| x.is_ascii_hexdigit()) {
                        return None;
                    }
                    u32::from_str_radix(h, 16).ok()
                };
                match unit(i + 2) {
                    Some(0xD800..=0xDBFF) => {
                        let lo = (text.get(i + 6..i + 8) == Some("\\u"))
                            .then(|| unit(i + 8))
                            .flatten();
                        if let Some(0xDC00..=0xDFFF) = lo {
                            out.push_str(&text[i..i + 12]);
                            i += 12;
                        } else {
                            out.push_str("\\ufffd");
                            i += 6;
                        }
                    }
                    Some(0xDC00..=0xDFFF) => {
                        out.push_str("\\ufffd");
                        i += 6;
                    }
                    _ => {
                        out.push_str(&text[i..i + 2]);
                        i += 2;
                    }
                }
            }
            b'\\' => {
                // Any other escape: copy it and the escaped character as they are.
                out.push('\\');
                i += 1;
                if let Some(ch) = text[i..].chars().next() {
                    out.push(ch);
                    i += ch.len_utf8();
                }
            }
            _ => {
                let ch = text[i..].chars().next().unwrap_or('\u{fffd}');
                out.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    out
}

/// The strict tree as serde_json would build it: duplicate keys keep the
/// last value (as Go's decoder and serde_json both do), numbers stay text.
#[derive(Debug)]
enum Plain {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Array(Vec<Plain>),
    Object(Vec<(String, Plain)>),
}

fn to_serde(v: &Spanned) -> Plain {
    match &v.value {
        Value::Null => Plain::Null,
        Value::Bool(b) => Plain::Bool(*b),
        Value::Number(n) => Plain::Number(n.clone()),
        Value::String(s) => Plain::String(s.clone()),
        Value::Array(items) => Plain::Array(items.iter().map(to_serde).collect()),
        Value::Object(members) => {
            let mut out: Vec<(String, Plain)> = Vec::new();
            for m in members {
                let value = to_serde(&m.value);
                match out.iter_mut().find(|(k, _)| *k == m.key) {
                    Some(slot) => slot.1 = value,
                    None => out.push((m.key.clone(), value)),
                }
            }
            Plain::Object(out)
        }
    }
}

fn same(ours: &Plain, theirs: &Serde) -> bool {
    match (ours, theirs) {
        (Plain::Null, Serde::Null) => true,
        (Plain::Bool(a), Serde::Bool(b)) => a == b,
        (Plain::Number(text), Serde::Number(n)) => same_number(text, n),
        (Plain::String(a), Serde::String(b)) => a == b,
        (Plain::Array(a), Serde::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
        }
        (Plain::Object(a), Serde::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, v)| b.get(k).is_some_and(|theirs| same(v, theirs)))
        }
        _ => false,
    }
}

/// serde_json keeps integers that fit as u64/i64 and everything else as f64.
fn same_number(text: &str, n: &serde_json::Number) -> bool {
    if let Some(u) = n.as_u64() {
        return text.parse::<u64>().ok() == Some(u);
    }
    if let Some(i) = n.as_i64() {
        return text.parse::<i64>().ok() == Some(i);
    }
    match (text.parse::<f64>(), n.as_f64()) {
        (Ok(a), Some(b)) => a == b || (a.is_nan() && b.is_nan()),
        _ => false,
    }
}
