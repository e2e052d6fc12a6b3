//! The AADSTS catalog: every published code with its name and category (`data/aadsts.tsv`),
//! and for the codes that matter to flows a flow-specific description and any departures from
//! the category's default diagnosis (`data/codes.toml`). Both are compiled in and parsed once.

use crate::classify::knowledge;
use crate::vocab::{Actor, Category, Confidence, Effect, Effects, Fix, RootCause};
use serde::Deserialize;
use std::sync::LazyLock;

const AADSTS_TSV: &str = include_str!("../../data/aadsts.tsv");
const CODES_TOML: &str = include_str!("../../data/codes.toml");

/// Priority of a code rule unless `codes.toml` says otherwise (text rules default to 50).
pub const CODE_PRIORITY: i32 = 100;

static CATALOG: LazyLock<Vec<CodeInfo>> = LazyLock::new(|| {
    parse(AADSTS_TSV, CODES_TOML).unwrap_or_else(|e| panic!("AADSTS catalog: {e}"))
});

/// One AADSTS code and what flowdx makes of it.
#[derive(Clone, Debug, PartialEq)]
pub struct CodeInfo {
    pub code: u32,
    /// The symbolic name Entra publishes (`UserStrongAuthClientAuthNRequired`); may be empty.
    pub name: String,
    pub category: Category,
    /// Whether the connection's owner can fix it without an admin.
    pub owner_can_fix: bool,
    /// Seen in real messages but not in Entra's published table.
    pub extra: bool,
    /// What the code means for a flow, for the codes that matter to flows.
    pub text: Option<String>,
    pub root_cause: RootCause,
    pub fix: Fix,
    pub actor: Actor,
    pub effects: Effects,
    pub confidence: Confidence,
    pub priority: i32,
    pub note: Option<String>,
}

impl CodeInfo {
    /// `AADSTS50076`.
    pub fn label(&self) -> String {
        format!("AADSTS{}", self.code)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodesFile {
    code: Vec<CodeSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeSpec {
    code: u32,
    text: String,
    root_cause: Option<RootCause>,
    fix: Option<Fix>,
    actor: Option<Actor>,
    confidence: Option<Confidence>,
    effects: Option<Vec<Effect>>,
    priority: Option<i32>,
    note: Option<String>,
}

/// Parse the catalog table and the descriptions; every described code must be in the table.
pub fn parse(tsv: &str, codes_toml: &str) -> Result<Vec<CodeInfo>, String> {
    let mut out: Vec<CodeInfo> = Vec::new();
    let mut header_seen = false;
    for (i, line) in tsv.lines().enumerate() {
        let lineno = i + 1;
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if !header_seen {
            header_seen = true;
            if line.starts_with("code\t") {
                continue;
            }
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 4 {
            return Err(format!(
                "aadsts.tsv line {lineno}: expected code, name, category, owner_can_fix"
            ));
        }
        let code: u32 = cols[0]
            .trim()
            .trim_start_matches("AADSTS")
            .parse()
            .map_err(|_| {
                format!(
                    "aadsts.tsv line {lineno}: '{}' is not a code number",
                    cols[0]
                )
            })?;
        let category: Category = cols[2]
            .parse()
            .map_err(|e| format!("aadsts.tsv line {lineno}: {e}"))?;
        let owner_can_fix = match cols[3].trim() {
            "yes" => true,
            "no" => false,
            other => {
                return Err(format!(
                    "aadsts.tsv line {lineno}: owner_can_fix '{other}' (expected yes or no)"
                ));
            }
        };
        let d = knowledge::category_defaults(category);
        out.push(CodeInfo {
            code,
            name: cols[1].trim().to_string(),
            category,
            owner_can_fix,
            extra: cols.get(4).is_some_and(|s| s.trim() == "extra"),
            text: None,
            root_cause: d.root_cause,
            fix: d.fix,
            actor: d.actor,
            effects: d.effects,
            confidence: Confidence::Certain,
            priority: CODE_PRIORITY,
            note: None,
        });
    }
    out.sort_by_key(|c| c.code);
    if let Some(w) = out.windows(2).find(|w| w[0].code == w[1].code) {
        return Err(format!("aadsts.tsv: code {} listed twice", w[0].code));
    }

    let file: CodesFile = toml::from_str(codes_toml).map_err(|e| format!("codes.toml: {e}"))?;
    let mut described = std::collections::HashSet::new();
    for spec in file.code {
        if !described.insert(spec.code) {
            return Err(format!("codes.toml: code {} described twice", spec.code));
        }
        let Ok(i) = out.binary_search_by_key(&spec.code, |c| c.code) else {
            return Err(format!(
                "codes.toml: code {} is not in aadsts.tsv",
                spec.code
            ));
        };
        let info = &mut out[i];
        if spec.text.trim().is_empty() {
            return Err(format!("codes.toml: code {} has an empty text", spec.code));
        }
        info.text = Some(spec.text.trim().to_string());
        if let Some(r) = spec.root_cause {
            info.root_cause = r;
        }
        if let Some(f) = spec.fix {
            info.fix = f;
            info.actor = knowledge::fix_actor(f);
        }
        if let Some(a) = spec.actor {
            info.actor = a;
        }
        if let Some(c) = spec.confidence {
            info.confidence = c;
        }
        if let Some(e) = spec.effects {
            info.effects = Effects::of(&e);
        }
        if let Some(p) = spec.priority {
            info.priority = p;
        }
        info.note = spec.note;
    }
    Ok(out)
}

/// The whole catalog, sorted by code.
pub fn catalog() -> &'static [CodeInfo] {
    &CATALOG
}

/// One code's entry.
pub fn lookup(code: u32) -> Option<&'static CodeInfo> {
    let cat = catalog();
    cat.binary_search_by_key(&code, |c| c.code)
        .ok()
        .map(|i| &cat[i])
}

/// Read a code as people write it: `AADSTS50076`, `aadsts50076`, `50076`.
pub fn parse_code(s: &str) -> Option<u32> {
    let t = s.trim();
    let digits = match (t.get(..6), t.get(6..)) {
        (Some(prefix), Some(rest)) if !rest.is_empty() && prefix.eq_ignore_ascii_case("aadsts") => {
            rest
        }
        _ => t,
    };
    let digits = digits.trim_start_matches([':', ' ']);
    if (4..=8).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_code_takes_any_text() {
        assert_eq!(parse_code("AADSTS50076"), Some(50076));
        assert_eq!(parse_code("aadsts: 50076"), Some(50076));
        assert_eq!(parse_code("50076"), Some(50076));
        // A multi-byte character across the prefix's end is not a code, and no panic.
        assert_eq!(parse_code("aaaaaé"), None);
        assert_eq!(parse_code("aadstsé1"), None);
        assert_eq!(parse_code("AADSTS"), None);
        assert_eq!(parse_code("é"), None);
    }

    #[test]
    fn every_code_parses_and_has_a_category() {
        let cat = catalog();
        let rows = AADSTS_TSV
            .lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with("code\t") && !l.trim().is_empty())
            .count();
        assert_eq!(cat.len(), rows);
        assert!(cat.len() > 350, "{}", cat.len());
        for c in cat {
            assert!(c.code >= 10000, "{}", c.code);
            assert!(Category::ALL.contains(&c.category));
            assert!(c.category != Category::Unknown && c.category != Category::NotAuth);
        }
    }

    #[test]
    fn flow_relevant_codes_are_described() {
        let must = [
            50076, 50079, 50074, 50078, 50072, 50097, 50158, 53003, 530084, 53000, 53001, 53002,
            530003, 530002, 500021, 500022, 50002, 70008, 700082, 700084, 70043, 70044, 50133,
            50173, 70000, 50126, 50055, 50056, 7000215, 7000222, 700027, 50057, 50034, 50053,
            50020, 16000, 65001, 65004, 90094, 90095, 500011, 700016, 900144, 500014, 90002, 50128,
            90033, 50000, 50196, 50011, 50001,
        ];
        for code in must {
            let c = lookup(code).unwrap_or_else(|| panic!("{code} missing"));
            assert!(c.text.is_some(), "{code} has no description");
        }
        use Category::*;
        for c in catalog() {
            if matches!(
                c.category,
                MfaRequired
                    | CaBlocked
                    | CaDevice
                    | CaLocation
                    | TokenInactive
                    | TokenMaxAge
                    | SessionPolicy
                    | TokenRevoked
            ) {
                assert!(
                    c.text.is_some(),
                    "{} ({}) has no description",
                    c.code,
                    c.category
                );
            }
        }
    }

    #[test]
    fn overrides_apply() {
        let c = lookup(50078).unwrap();
        assert_eq!(c.root_cause, RootCause::MfaMaxAge);
        assert_eq!(c.fix, Fix::SetTokenLifetimePolicy);
        assert_eq!(c.actor, Actor::Admin);
        let c = lookup(7000222).unwrap();
        assert_eq!(
            (c.root_cause, c.actor),
            (RootCause::AppMisconfigured, Actor::Admin)
        );
        assert_eq!(lookup(70000).unwrap().priority, 60);
        assert_eq!(lookup(50076).unwrap().priority, CODE_PRIORITY);
        assert!(lookup(1).is_none());
    }

    #[test]
    fn code_spellings() {
        assert_eq!(parse_code("AADSTS50076"), Some(50076));
        assert_eq!(parse_code("aadsts700082"), Some(700082));
        assert_eq!(parse_code("50076"), Some(50076));
        assert_eq!(parse_code("E1"), None);
        assert_eq!(parse_code("AADSTS"), None);
    }

    #[test]
    fn bad_catalogs_are_rejected() {
        assert!(
            parse(
                "code\tname\tcategory\towner_can_fix\n1x\ta\tmfa-required\tyes\n",
                "code = []"
            )
            .is_err()
        );
        assert!(parse("50076\ta\tnope\tyes\n", "code = []").is_err());
        let e = parse(
            "50076\ta\tmfa-required\tyes\n",
            "[[code]]\ncode = 1\ntext = \"x\"\n",
        )
        .unwrap_err();
        assert!(e.contains("not in aadsts.tsv"), "{e}");
    }
}
