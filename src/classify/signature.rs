//! Message signatures: the shape of a message with everything that varies between runs masked,
//! so that the same failure from different runs, flows and days groups together.
//!
//! Masked, in this order: URLs (`<url>`), emails (`<email>`), GUIDs (`<guid>`), ISO and US
//! date-times (`<date>`), run names (`08584...CU17` -> `<run>`), quoted ids containing digits
//! and at least 12 characters (`'<id>'`), long hex strings (`<hex>`) and any other number (`<n>`). Whitespace (including
//! escaped `\r\n`) collapses to one space and the result is capped at [`MAX_LEN`] bytes.

use regex::{Captures, Regex};
use std::sync::LazyLock;

/// Quoted tokens with a digit are masked as ids from this many characters on.
const QUOTED_ID_MIN: usize = 12;

/// Longest signature, in bytes (cut at a character boundary).
pub const MAX_LEN: usize = 200;

static MASK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?P<url>\b(?:https?|ftp)://[^\s'\x22<>\\]+)",
        r"|(?P<email>\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b)",
        r"|(?P<guid>\b(?:g-)?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b)",
        r"|(?P<iso>\b\d{4}-\d{2}-\d{2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?)",
        r"|(?P<us>\b\d{1,2}[/.]\d{1,2}[/.]\d{2,4}(?:,?\s+\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AaPp][Mm])?)?)",
        r"|(?P<run>\b\d{20,}CU\d+\b)",
        r"|(?P<quoted>'[^'\s]*\d[^'\s]*'|\x22[^\x22\s\\]*\d[^\x22\s\\]*\x22)",
        r"|(?P<hex>\b[0-9a-fA-F]{16,}\b)",
        r"|(?P<num>\d+(?:[.:]\d+)*)",
        r"|(?P<ws>(?:\s|\\[rnt])+)",
    ))
    .expect("signature regex")
});

/// The signature of a message no rule explains: numbers, GUIDs, dates, emails and URLs masked.
pub fn signature(text: &str) -> String {
    let masked = MASK.replace_all(text.trim(), |c: &Captures<'_>| {
        let s = if c.name("url").is_some() {
            "<url>"
        } else if c.name("email").is_some() {
            "<email>"
        } else if c.name("guid").is_some() {
            "<guid>"
        } else if c.name("iso").is_some() || c.name("us").is_some() {
            "<date>"
        } else if c.name("run").is_some() {
            "<run>"
        } else if let Some(q) = c.name("quoted") {
            // Short quoted names ('office365') say which connector; long ones are ids.
            if q.as_str().len() < QUOTED_ID_MIN + 2 {
                return q.as_str().to_string();
            }
            "'<id>'"
        } else if c.name("hex").is_some() {
            "<hex>"
        } else if c.name("num").is_some() {
            "<n>"
        } else {
            " "
        };
        s.to_string()
    });
    let t = masked.trim();
    if t.len() <= MAX_LEN {
        return t.to_string();
    }
    let mut end = MAX_LEN;
    while !t.is_char_boundary(end) {
        end -= 1;
    }
    t[..end].trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_failure_different_runs() {
        let a = "The API 'office365' returned an invalid response for workflow operation 'Send_an_email_(V2)' of type 'OpenApiConnection'. Error details: Run 08585263462847305235127631245CU17 at 5/2/2024 6:01:13 AM for jane@contoso.com, clientRequestId: 0b7c1c7e-4a5e-4b1a-9c3e-2f1e0d9c8b7a, see https://make.powerautomate.com/x?y=1 took 1532 ms";
        let b = "The API 'office365' returned an invalid response for workflow operation 'Send_an_email_(V2)' of type 'OpenApiConnection'. Error details: Run 08584999999999999999999999999CU02 at 12/19/2023 11:59:59 PM for bob.smith@fabrikam.onmicrosoft.com, clientRequestId: aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee, see https://make.powerautomate.com/other took 7 ms";
        assert_eq!(signature(a), signature(b));
        let s = signature(a);
        assert!(
            s.contains("<run>") && s.contains("<date>") && s.contains("<email>"),
            "{s}"
        );
        assert!(s.contains("<guid>") && s.contains("<url>"), "{s}");
        assert!(s.len() <= MAX_LEN);
    }

    #[test]
    fn iso_dates_ids_and_whitespace() {
        let a = "Timeout at 2024-05-02T06:01:13.1234567Z on   'shared-sql-42ab'\\r\\n  retry";
        let b = "Timeout at 2023-01-01 00:00:00Z on 'shared-sql-99ff'\r\n retry";
        assert_eq!(signature(a), signature(b));
        assert_eq!(signature(a), "Timeout at <date> on '<id>' retry");
    }

    #[test]
    fn capped_at_a_char_boundary() {
        let long = "é".repeat(300);
        let s = signature(&long);
        assert!(s.len() <= MAX_LEN && s.is_char_boundary(s.len()));
        assert_eq!(signature(""), "");
    }
}
