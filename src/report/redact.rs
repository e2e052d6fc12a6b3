//! `--redact`: replace people in a rendered report with stable pseudonyms (`person-7f3a2c`).
//!
//! The redactor works on the rendered text of any format, so every renderer is covered the
//! same way: first every owner label the report knows (`Megan Bowen <megan.bowen@contoso.com>`,
//! a UPN, an object id), then the display name and the address inside such a label, then any
//! remaining e-mail address or UPN and any GUID that names a person anywhere in the text
//! (messages and examples included). The pseudonym is the first 6 hex digits of
//! HMAC-SHA256(key, identity), where the identity is the person's lowercased address when
//! the label has one, so a name and its address get the same pseudonym; the same key gives
//! the same pseudonyms across reports. Pseudonyms contain only `[a-z0-9-]`, so replacing
//! them inside CSV, JSON, HTML or Markdown never breaks quoting or escaping.

use super::Report;
use hmac::{Hmac, KeyInit, Mac};
use regex::Regex;
use sha2::Sha256;
use std::collections::BTreeSet;

/// Replaces people with pseudonyms in rendered text.
pub struct Redactor {
    key: Vec<u8>,
    /// (text to find, identity), longest text first so labels go before their parts.
    known: Vec<(String, String)>,
    email: Regex,
    guid: Regex,
    /// GUIDs known to name people (owner labels that are object ids).
    people_ids: BTreeSet<String>,
}

impl Redactor {
    /// A redactor for `report`'s people, keyed by `key`.
    pub fn new(report: &Report, key: &[u8]) -> Redactor {
        let guid =
            Regex::new(r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
                .expect("guid pattern");
        let email = Regex::new(r"(?i)\b[a-z0-9._%+'-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+\b")
            .expect("email pattern");
        let mut labels: BTreeSet<&str> = BTreeSet::new();
        for g in report.groups() {
            labels.insert(g.owner.as_str());
        }
        for f in report.findings() {
            labels.extend(f.owners.iter().map(|s| s.as_str()));
        }
        labels.remove(super::UNKNOWN);
        labels.remove("");
        let mut known = Vec::new();
        let mut people_ids = BTreeSet::new();
        for label in labels {
            let addr = email.find(label).map(|m| m.as_str().to_ascii_lowercase());
            let identity = addr.clone().unwrap_or_else(|| label.to_ascii_lowercase());
            known.push((label.to_string(), identity.clone()));
            if let Some((name, _)) = label.split_once('<') {
                let name = name.trim().trim_matches('"').trim();
                if name.chars().filter(|c| c.is_alphabetic()).count() >= 3 {
                    known.push((name.to_string(), identity.clone()));
                }
            }
            if let Some(a) = addr {
                known.push((a, identity.clone()));
            }
            for m in guid.find_iter(label) {
                people_ids.insert(m.as_str().to_ascii_lowercase());
            }
        }
        known.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        known.dedup_by(|a, b| a.0 == b.0);
        Redactor {
            key: key.to_vec(),
            known,
            email,
            guid,
            people_ids,
        }
    }

    /// The pseudonym of an identity.
    pub fn pseudonym(&self, identity: &str) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key).expect("any key length");
        mac.update(identity.to_ascii_lowercase().as_bytes());
        let bytes = mac.finalize().into_bytes();
        let mut s = String::from("person-");
        for b in &bytes[..3] {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }

    /// `text` with every known person, e-mail address and person GUID replaced.
    pub fn apply(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (find, identity) in &self.known {
            if out.contains(find.as_str()) {
                out = out.replace(find.as_str(), &self.pseudonym(identity));
            }
            // HTML escapes `<` and `>` in labels; replace the escaped form too.
            if find.contains('<') {
                let escaped = super::render::html::esc(find);
                if out.contains(&escaped) {
                    out = out.replace(&escaped, &self.pseudonym(identity));
                }
            }
        }
        let out = self
            .email
            .replace_all(&out, |c: &regex::Captures| self.pseudonym(&c[0]));
        self.guid
            .replace_all(&out, |c: &regex::Captures| {
                let g = c[0].to_ascii_lowercase();
                if self.people_ids.contains(&g) {
                    self.pseudonym(&g)
                } else {
                    c[0].to_string()
                }
            })
            .into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_person_same_pseudonym_and_key_changes_it() {
        let r = Report::new();
        let a = Redactor::new(&r, b"k1");
        let b = Redactor::new(&r, b"k2");
        assert_eq!(a.pseudonym("Megan@x.com"), a.pseudonym("megan@x.com"));
        assert_ne!(a.pseudonym("megan@x.com"), b.pseudonym("megan@x.com"));
        let t = a.apply("mail megan.bowen@contoso.com and MEGAN.BOWEN@contoso.com");
        assert!(!t.contains('@'), "{t}");
        let p = a.pseudonym("megan.bowen@contoso.com");
        assert_eq!(t.matches(&p).count(), 2, "{t}");
    }
}
