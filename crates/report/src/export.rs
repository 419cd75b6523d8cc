//! Exports of a [`Table`]: CSV, JSON and XLSX.
//!
//! # CSV (RFC 4180, UTF-8, CRLF line ends, no BOM)
//!
//! The first line is the header, with no comment before it:
//! one column per grouping dimension, then `visits`, `row`, `disclosure`.
//! - `visits`: the count, or `<10` (1–9, primary suppression) or `x`
//!   (withheld so that a `<10` cannot be worked out from totals).
//! - `row`: `cell` for the table's cells, `total` for margins; in a total
//!   row the summed-out columns hold `*`. Cells come first, then the totals
//!   (see [`Table`]), so a spreadsheet sum over `row = cell` is the total.
//! - `disclosure`: `exact` (staff only) or `public` (suppression applied),
//!   the same on every line, so that an extract of the file still says
//!   which it is.
//!
//! # JSON
//! The [`Table`]'s serde form (see its `Serialize` impl).
//!
//! # XLSX
//! Sheet `tallies`: the same columns and rows as the CSV, counts as numbers,
//! marks as text. Sheet `about`: disclosure and what the marks mean.

use std::io::{BufWriter, Seek, Write};

use rust_xlsxwriter::{Format as XlsxFormat, Workbook};

use crate::error::ExportError;
use crate::query::Disclosure;
use crate::table::{Row, Table, ALL_MARK, PRIMARY_MARK, SECONDARY_MARK};

/// Most data rows a worksheet holds (1,048,576 minus the header).
pub const XLSX_MAX_ROWS: usize = 1_048_575;

/// RFC 4180: quote a field only when it holds a comma, quote or line break.
fn csv_field<W: Write>(w: &mut W, s: &str) -> std::io::Result<()> {
    if s.contains([',', '"', '\r', '\n']) {
        w.write_all(b"\"")?;
        w.write_all(s.replace('"', "\"\"").as_bytes())?;
        w.write_all(b"\"")
    } else {
        w.write_all(s.as_bytes())
    }
}

/// Writes the table as CSV, row by row, into `out` (buffered here).
pub fn write_csv<W: Write>(table: &Table, out: W) -> Result<(), ExportError> {
    let mut w = BufWriter::with_capacity(64 * 1024, out);
    let mut first = true;
    for h in table.header().into_iter().chain(["row", "disclosure"]) {
        if !first {
            w.write_all(b",")?;
        }
        first = false;
        csv_field(&mut w, h)?;
    }
    w.write_all(b"\r\n")?;
    let disclosure = table.disclosure.code();
    let mut num = itoa_buf();
    for (kind, rows) in [("cell", &table.rows), ("total", &table.totals)] {
        for r in rows.iter() {
            for k in &r.keys {
                csv_field(&mut w, k.as_deref().unwrap_or(ALL_MARK))?;
                w.write_all(b",")?;
            }
            match (r.visits.value(), r.visits.mark()) {
                (Some(n), _) => w.write_all(fmt_u64(&mut num, n))?,
                (None, m) => w.write_all(m.unwrap_or("").as_bytes())?,
            }
            w.write_all(b",")?;
            w.write_all(kind.as_bytes())?;
            w.write_all(b",")?;
            w.write_all(disclosure.as_bytes())?;
            w.write_all(b"\r\n")?;
        }
    }
    w.flush()?;
    Ok(())
}

/// The CSV as a string (small tables, tests).
pub fn to_csv(table: &Table) -> Result<String, ExportError> {
    let mut buf = Vec::new();
    write_csv(table, &mut buf)?;
    // Everything written is UTF-8 (codes are ASCII, marks are ASCII).
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

fn itoa_buf() -> [u8; 20] {
    [0; 20]
}

/// Formats without allocating: 1 M rows make this the CSV writer's hot spot.
fn fmt_u64(buf: &mut [u8; 20], mut n: u64) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

/// Writes the table as JSON into `out`.
pub fn write_json<W: Write>(table: &Table, out: W) -> Result<(), ExportError> {
    let mut w = BufWriter::new(out);
    serde_json::to_writer(&mut w, table)?;
    w.flush()?;
    Ok(())
}

fn workbook(table: &Table) -> Result<Workbook, ExportError> {
    let n_rows = table.rows.len() + table.totals.len();
    if n_rows > XLSX_MAX_ROWS {
        return Err(ExportError::TooManyRowsForXlsx {
            rows: n_rows,
            max: XLSX_MAX_ROWS,
        });
    }
    let mut wb = Workbook::new();
    let bold = XlsxFormat::new().set_bold();
    let ws = wb.add_worksheet();
    ws.set_name("tallies")?;
    let header: Vec<&str> = table
        .header()
        .into_iter()
        .chain(["row", "disclosure"])
        .collect();
    for (c, h) in header.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    ws.set_freeze_panes(1, 0)?;
    let n = table.dimensions.len();
    let disclosure = table.disclosure.code();
    let mut r: u32 = 1;
    let mut put =
        |ws: &mut rust_xlsxwriter::Worksheet, row: &Row, kind: &str| -> Result<(), ExportError> {
            for (c, k) in row.keys.iter().enumerate() {
                ws.write_string(r, c as u16, k.as_deref().unwrap_or(ALL_MARK))?;
            }
            match (row.visits.value(), row.visits.mark()) {
                // Counts stay far below 2^53, so f64 is exact.
                (Some(v), _) => ws.write_number(r, n as u16, v as f64)?,
                (None, m) => ws.write_string(r, n as u16, m.unwrap_or(""))?,
            };
            ws.write_string(r, n as u16 + 1, kind)?;
            ws.write_string(r, n as u16 + 2, disclosure)?;
            r += 1;
            Ok(())
        };
    for row in &table.rows {
        put(ws, row, "cell")?;
    }
    for row in &table.totals {
        put(ws, row, "total")?;
    }
    let about = wb.add_worksheet();
    about.set_name("about")?;
    let lines: [(&str, &str); 5] = [
        ("disclosure", disclosure),
        (
            "meaning",
            match table.disclosure {
                Disclosure::Exact => "exact counts: for coordination staff only, do not publish",
                Disclosure::Public => "small-cell suppression applied: safe to publish",
            },
        ),
        (PRIMARY_MARK, "a count from 1 to 9"),
        (
            SECONDARY_MARK,
            "a count of 10 or more withheld so that no <10 can be worked out from totals",
        ),
        (ALL_MARK, "in a total row: all values of this column"),
    ];
    for (i, (k, v)) in lines.iter().enumerate() {
        about.write_string_with_format(i as u32, 0, *k, &bold)?;
        about.write_string(i as u32, 1, *v)?;
    }
    Ok(wb)
}

/// Writes the table as an XLSX workbook into `out`.
pub fn write_xlsx<W: Write + Seek + Send>(table: &Table, out: W) -> Result<(), ExportError> {
    workbook(table)?.save_to_writer(out)?;
    Ok(())
}

/// The XLSX workbook as bytes (what an HTTP response body needs).
pub fn to_xlsx(table: &Table) -> Result<Vec<u8>, ExportError> {
    Ok(workbook(table)?.save_to_buffer()?)
}
