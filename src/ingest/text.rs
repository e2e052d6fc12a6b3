//! PowerShell `Format-List` text (`Get-AzureADPolicy | fl *`, `Get-AdminFlow | fl`):
//! blocks of `Name : value` lines. Such files are small, so they are decoded on the
//! calling thread; keys are mapped with the same column names as CSV headers.

use super::mapping::{KindTable, norm};
use super::powershell::FormatList;
use super::records::{self, Ctx, Slots, Val};
use crate::model::{Item, Position};
use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};

/// Field of each normalised key, from the table's column names (or `--map`).
pub(crate) struct KeyPlan {
    by_key: HashMap<String, usize>,
}

impl KeyPlan {
    pub(crate) fn new(table: &KindTable, overrides: &[(usize, String)]) -> Self {
        let mut by_key = HashMap::new();
        for (i, f) in table.fields.iter().enumerate() {
            let mapped: Vec<&str> = overrides
                .iter()
                .filter(|(fi, _)| *fi == i)
                .map(|(_, c)| c.as_str())
                .collect();
            let names = if mapped.is_empty() {
                f.columns.to_vec()
            } else {
                mapped
            };
            for n in names {
                by_key.entry(norm(n)).or_insert(i);
            }
        }
        KeyPlan { by_key }
    }

    /// The field a key feeds.
    pub(crate) fn field(&self, key: &str) -> Option<usize> {
        self.by_key.get(&norm(key)).copied()
    }
}

/// Decode a Format-List stream, emitting one item per block.
pub(crate) fn decode<F: FnMut(Item<'_>)>(
    reader: Box<dyn Read + Send>,
    plan: &KeyPlan,
    ctx: &Ctx,
    emit: &mut F,
) -> std::io::Result<()> {
    let mut r = BufReader::with_capacity(64 * 1024, reader);
    let mut fl = FormatList::new();
    let mut line = Vec::new();
    let mut n = 0u64;
    let handle = |block: super::powershell::Block, emit: &mut F| {
        let mut slots = Slots::new();
        for (k, v) in block.entries {
            if let Some(&f) = plan.by_key.get(&norm(&k)) {
                slots.set(f, Val::Str(Cow::Owned(v)));
            }
        }
        emit(records::build(ctx, &mut slots, Position::Line(block.line)));
    };
    loop {
        line.clear();
        let got = match r.read_until(b'\n', &mut line) {
            Ok(g) => g,
            Err(e) => {
                emit(ctx.malformed(
                    Position::Line(n + 1),
                    format!("file ends inside a record (truncated download?): {e}"),
                ));
                break;
            }
        };
        if got == 0 {
            break;
        }
        n += 1;
        let text = String::from_utf8_lossy(&line);
        if let Some(block) = fl.push(&text, n) {
            handle(block, emit);
        }
    }
    if let Some(block) = fl.finish() {
        handle(block, emit);
    }
    Ok(())
}
