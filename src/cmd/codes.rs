//! `flowdx codes`: the AADSTS catalog compiled into flowdx, one row per code with its name,
//! category, root cause, fix, actor and flow-specific description (empty for codes that do
//! not matter to flows). Formats: an aligned table, CSV (csv crate, header row) or a JSON
//! array of objects with the same keys as the CSV header.

use crate::classify::catalog::{self, CodeInfo};
use crate::vocab::Category;
use std::io::Write;

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

#[derive(Debug, clap::Args)]
#[command(
    long_about = "List the AADSTS catalog compiled into flowdx: every code Entra publishes plus a \
few seen in real messages, with flowdx's category, the root cause and fix it leads to, who acts, \
and for the codes that matter to flows a short description. Filter with --category."
)]
pub struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Only codes of this category (mfa-required, ca-blocked, token-inactive, ...).
    #[arg(long, value_name = "CATEGORY", value_parser = |s: &str| s.parse::<Category>())]
    pub category: Option<Category>,
}

const HEADER: [&str; 7] = [
    "code",
    "name",
    "category",
    "root_cause",
    "fix",
    "actor",
    "description",
];

fn row(c: &CodeInfo) -> [String; 7] {
    [
        c.label(),
        c.name.clone(),
        c.category.to_string(),
        c.root_cause.to_string(),
        c.fix.to_string(),
        c.actor.to_string(),
        c.text.clone().unwrap_or_default(),
    ]
}

pub fn run(args: Args, out: &mut dyn Write) -> crate::Result<u8> {
    let rows: Vec<[String; 7]> = catalog::catalog()
        .iter()
        .filter(|c| args.category.is_none_or(|k| c.category == k))
        .map(row)
        .collect();
    match args.format {
        Format::Csv => {
            let mut w = csv::Writer::from_writer(out);
            let err = |e: csv::Error| crate::Error::Output(std::io::Error::other(e));
            w.write_record(HEADER).map_err(err)?;
            for r in &rows {
                w.write_record(r).map_err(err)?;
            }
            w.flush().map_err(crate::Error::Output)?;
        }
        Format::Json => {
            let list: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| {
                    let mut m = serde_json::Map::new();
                    for (k, v) in HEADER.iter().zip(r) {
                        let v = if *k == "description" && v.is_empty() {
                            serde_json::Value::Null
                        } else {
                            serde_json::Value::String(v.clone())
                        };
                        m.insert((*k).to_string(), v);
                    }
                    serde_json::Value::Object(m)
                })
                .collect();
            serde_json::to_writer_pretty(&mut *out, &list)
                .map_err(|e| crate::Error::Output(std::io::Error::other(e)))?;
            writeln!(out).map_err(crate::Error::Output)?;
        }
        Format::Table => write_table(&rows, out).map_err(crate::Error::Output)?,
    }
    Ok(crate::cmd::EXIT_OK)
}

fn write_table(rows: &[[String; 7]], out: &mut dyn Write) -> std::io::Result<()> {
    let mut width = HEADER.map(str::len);
    for r in rows {
        for (w, cell) in width.iter_mut().zip(r).take(6) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let print = |out: &mut dyn Write, cells: [&str; 7]| -> std::io::Result<()> {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate().take(6) {
            s.push_str(&format!("{c:<w$}  ", w = width[i]));
        }
        s.push_str(cells[6]);
        writeln!(out, "{}", s.trim_end())
    };
    print(out, HEADER)?;
    for r in rows {
        print(out, [&r[0], &r[1], &r[2], &r[3], &r[4], &r[5], &r[6]])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn run_cli(argv: &[&str]) -> String {
        let cli = crate::cmd::Cli::try_parse_from(argv).unwrap();
        let mut out = Vec::new();
        assert_eq!(crate::cmd::run(cli, &mut out).unwrap(), 0);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn csv_has_every_code() {
        let out = run_cli(&["flowdx", "codes", "--format", "csv"]);
        let mut r = csv::Reader::from_reader(out.as_bytes());
        assert_eq!(r.headers().unwrap().iter().collect::<Vec<_>>(), HEADER);
        let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
        assert_eq!(rows.len(), catalog::catalog().len());
        let mfa = rows.iter().find(|x| &x[0] == "AADSTS50076").unwrap();
        assert_eq!(&mfa[2], "mfa-required");
        assert_eq!(&mfa[5], "owner");
        assert!(!mfa[6].is_empty());
    }

    #[test]
    fn category_filter_table_and_json() {
        let out = run_cli(&["flowdx", "codes", "--category", "token-inactive"]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        assert!(lines[0].starts_with("code"));
        assert!(out.contains("AADSTS70008") && out.contains("AADSTS700082"));
        let out = run_cli(&[
            "flowdx",
            "codes",
            "--format",
            "json",
            "--category",
            "mfa-required",
        ]);
        let v: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
        assert!(v.iter().all(|x| x["category"] == "mfa-required"));
        assert!(v.iter().any(|x| x["code"] == "AADSTS50076"));
        assert!(
            crate::cmd::Cli::try_parse_from(["flowdx", "codes", "--category", "nope"]).is_err()
        );
    }
}
