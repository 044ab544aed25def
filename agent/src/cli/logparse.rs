//! `seismo logparse [--log-format FMT] [--template-variables token|parts] FILE`: the template
//! miner, offline.
//!
//! Writes CSV to stdout, header `line,template_id,template`, one row per input line in input
//! order (line numbers from 1). The template is the line's template as it stood right after the
//! line was mined (the miner is streaming: later lines may turn more tokens into `<*>`); the
//! summary on stderr lists the final templates with their counts.
//!
//! Input is read as bytes: `\n` ends a line, a `\r` before it is dropped, a missing final
//! newline is fine, invalid UTF-8 is replaced (U+FFFD) and counted, and lines that do not match
//! `--log-format` are mined whole and counted. Without `--log-format`, the header each line
//! starts with (timestamp, level, pid, host, logger) is recognised by
//! a [`seismo_detectors::HeaderSplitter`] of the file's own (the agent's sources use
//! `split_header`, the same recognition) and only the message is mined.
//! A regular file is read through a memory map, as long as it was when opened; one cut shorter
//! meanwhile ends the command with an error (see `mapped`).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use seismo_detectors::{HeaderSplitter, LogFormat, MinerConfig, TemplateMiner, VariableForm};

use crate::cli::exit::EXIT_USAGE;

mod lines;
mod mapped;

use lines::{for_each_line, LineSink};
use mapped::Mapped;

/// Counts reported on stderr.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub lines: u64,
    pub invalid_utf8: u64,
    pub unmatched: u64,
}

pub fn main(log_format: Option<&str>, variables: VariableForm, file: &Path) -> ExitCode {
    let format = match log_format.map(LogFormat::parse).transpose() {
        Ok(f) => f,
        Err(e) => {
            eprintln!(
                "error: invalid --log-format {:?}: {e}",
                log_format.unwrap_or("")
            );
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let started = Instant::now();
    let mut miner = TemplateMiner::new(MinerConfig {
        variables,
        ..MinerConfig::default()
    })
    .unwrap_or_default();
    let result = File::open(file)
        .with_context(|| format!("cannot open {}", file.display()))
        .and_then(|f| {
            // `parse` writes its rows in blocks of its own.
            let mut out = io::stdout().lock();
            let summary = match Mapped::of(&f) {
                Some(map) => parse(
                    map.bytes(),
                    &mut map.guard(&mut out),
                    format.as_ref(),
                    &mut miner,
                ),
                None => {
                    let input = BufReader::with_capacity(1 << 20, f);
                    parse(input, &mut out, format.as_ref(), &mut miner)
                }
            }
            .with_context(|| format!("reading {}", file.display()))?;
            out.flush().context("writing stdout")?;
            Ok(summary)
        });
    match result {
        Ok(summary) => {
            print_summary(&summary, &miner, started);
            ExitCode::SUCCESS
        }
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<io::Error>())
        .any(|io| io.kind() == io::ErrorKind::BrokenPipe)
}

/// Rows are gathered in blocks of about this many bytes before they are written to `out`.
const ROWS_BLOCK: usize = 1 << 20;

/// Mines every line of `input`, writing the CSV rows to `out` (in large blocks: `out` need not
/// be buffered).
pub fn parse<R: BufRead, W: Write>(
    input: R,
    out: &mut W,
    format: Option<&LogFormat>,
    miner: &mut TemplateMiner,
) -> io::Result<Summary> {
    let mut rows = Rows {
        summary: Summary::default(),
        tails: Tails::new(miner.config().max_clusters),
        number: LineNumber::default(),
        headers: HeaderSplitter::new(),
        block: Vec::with_capacity(ROWS_BLOCK + 4096),
        out,
        format,
        miner,
    };
    rows.block.extend_from_slice(b"line,template_id,template\n");
    for_each_line(input, &mut rows)?;
    rows.out.write_all(&rows.block)?;
    Ok(rows.summary)
}

/// What [`parse`] keeps from line to line.
struct Rows<'a, W> {
    summary: Summary,
    /// Each template's end of row (`,id,template\n`), built when a line needs it and rebuilt
    /// when the template changes; a row is the line number and that.
    tails: Tails,
    number: LineNumber,
    /// The header layouts of the lines so far (the lines are split without a format).
    headers: HeaderSplitter,
    /// The rows not yet written.
    block: Vec<u8>,
    out: &'a mut W,
    format: Option<&'a LogFormat>,
    miner: &'a mut TemplateMiner,
}

impl<W: Write> LineSink for Rows<'_, W> {
    /// Mines a line and adds its row. Inlined into the reading loop: a call per line costs
    /// more than the row itself.
    #[inline(always)]
    fn line(&mut self, line: &str, invalid: bool) -> io::Result<()> {
        self.summary.invalid_utf8 += u64::from(invalid);
        self.summary.lines += 1;
        self.number.increment();
        let content = match self.format {
            None => self.headers.split(line).content(),
            Some(f) => match f.split(line) {
                Some(fields) => fields.content(),
                None => {
                    self.summary.unmatched += 1;
                    line
                }
            },
        };
        let m = self.miner.add(content);
        let id = m.template_id;
        let (owner, tail) = self.tails.slot(id);
        if *owner != id || m.is_new || m.template_changed {
            *owner = id;
            tail.clear();
            tail.push(b',');
            push_u64(tail, id);
            tail.push(b',');
            let template = self.miner.template(id).unwrap_or("");
            tail.extend_from_slice(csv_field(template).as_bytes());
            tail.push(b'\n');
        }
        self.number.write_to(&mut self.block);
        self.block.extend_from_slice(tail);
        if self.block.len() >= ROWS_BLOCK {
            self.out.write_all(&self.block)?;
            self.block.clear();
        }
        Ok(())
    }
}

/// The rows' ends by template id, direct-mapped. Ids are handed out from 1, one by one: while
/// they are fewer than the slots, an id's slot is its own and a look-up is an index. The table
/// grows to twice the templates the miner keeps at most (a power of two), then ids a table's
/// length apart share a slot and its owner tells them apart; an evicted template's end stays
/// until its slot is reused. So memory follows the miner's bound, not the ids ever created.
struct Tails {
    slots: Vec<(u64, Vec<u8>)>,
    most: usize,
}

impl Tails {
    fn new(max_templates: usize) -> Self {
        Self {
            slots: Vec::new(),
            most: max_templates
                .saturating_mul(2)
                .checked_next_power_of_two()
                .unwrap_or(1 << (usize::BITS - 1)),
        }
    }

    /// The slot of `id`: its owner's id (0, no template's, when never used) and row end.
    #[inline]
    fn slot(&mut self, id: u64) -> (&mut u64, &mut Vec<u8>) {
        let at = usize::try_from(id).unwrap_or(usize::MAX);
        if at >= self.slots.len() && self.slots.len() < self.most {
            // Below `most` no id has wrapped yet, so a longer table keeps every slot.
            let len = at.saturating_add(1).next_power_of_two().min(self.most);
            self.slots.resize_with(len, || (0, Vec::new()));
        }
        let mask = self.slots.len() - 1;
        let (owner, tail) = &mut self.slots[at & mask];
        (owner, tail)
    }
}

/// RFC 4180: quoted when it holds a comma, quote, CR or LF, or starts or ends with a space.
pub fn csv_field(s: &str) -> String {
    let needs = s.contains([',', '"', '\r', '\n']) || s.starts_with(' ') || s.ends_with(' ');
    if needs {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The line number as decimal digits, counted up in place (no division per line), in an
/// array as long as a `u64`'s longest, so that a row copies it whole (a copy of fixed length,
/// no call) and keeps its digits.
struct LineNumber {
    digits: [u8; 20],
    len: usize,
}

impl Default for LineNumber {
    fn default() -> Self {
        Self {
            digits: [b'0'; 20],
            len: 1,
        }
    }
}

impl LineNumber {
    fn increment(&mut self) {
        for d in self.digits[..self.len].iter_mut().rev() {
            if *d == b'9' {
                *d = b'0';
            } else {
                *d += 1;
                return;
            }
        }
        // All nines, now zeros: one digit more (a `u64` count never reaches 20 digits).
        self.digits[0] = b'1';
        self.digits[self.len] = b'0';
        self.len += 1;
    }

    #[cfg(test)]
    fn digits(&self) -> &[u8] {
        &self.digits[..self.len]
    }

    /// Appends the digits to `out`.
    #[inline]
    fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.digits);
        out.truncate(out.len() - (self.digits.len() - self.len));
    }
}

fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

fn print_summary(s: &Summary, miner: &TemplateMiner, started: Instant) {
    let secs = started.elapsed().as_secs_f64();
    let mut templates: Vec<_> = miner.templates().collect();
    templates.sort_by(|a, b| b.count.cmp(&a.count).then(a.id.cmp(&b.id)));
    let mut err = io::stderr().lock();
    let _ = writeln!(
        err,
        "{} lines, {} templates ({} evicted), {} lines with invalid UTF-8 (replaced), {} lines not matching the format (mined whole); {:.3} s, {:.0} lines/s",
        s.lines,
        miner.len(),
        miner.evictions(),
        s.invalid_utf8,
        s.unmatched,
        secs,
        s.lines as f64 / secs.max(1e-9),
    );
    let _ = writeln!(err, "count,template_id,template");
    for t in templates {
        let _ = writeln!(err, "{},{},{}", t.count, t.id, csv_field(t.template));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("plain <*> text"), "plain <*> text");
        assert_eq!(csv_field("a, b"), "\"a, b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field(" lead"), "\" lead\"");
        assert_eq!(csv_field(""), "");
    }

    #[test]
    fn numbers_are_written_in_decimal() {
        for n in [0u64, 7, 10, 12345, u64::MAX] {
            let mut v = Vec::new();
            push_u64(&mut v, n);
            assert_eq!(String::from_utf8(v).unwrap(), n.to_string());
        }
    }

    #[test]
    fn line_numbers_count_up_in_decimal() {
        let mut n = LineNumber::default();
        let mut out = b"x".to_vec();
        for i in 1..=123_456u64 {
            n.increment();
            assert_eq!(n.digits(), i.to_string().as_bytes());
            out.truncate(1);
            n.write_to(&mut out);
            assert_eq!(&out[1..], i.to_string().as_bytes());
        }
    }

    #[test]
    fn lines_straddling_buffer_fills_are_mined_whole() {
        let input: &[u8] =
            b"open file a.txt took 5ms\r\n\nopen file b.txt took 7ms\r\n\xffbad, bytes\nlast line";
        let run = |capacity: usize| {
            let mut out = Vec::new();
            let mut miner = TemplateMiner::default();
            let reader = io::BufReader::with_capacity(capacity, input);
            let s = parse(reader, &mut out, None, &mut miner).unwrap();
            (s, String::from_utf8(out).unwrap())
        };
        let whole = run(1 << 16);
        assert_eq!(whole.0.lines, 5);
        for capacity in 1..=input.len() {
            assert_eq!(run(capacity), whole, "buffer of {capacity} bytes");
        }
    }

    #[test]
    fn rows_follow_input_order_with_crlf_and_no_final_newline() {
        let input: &[u8] =
            b"open file a.txt took 5ms\r\nopen file b.txt took 7ms\r\n\xffbad, bytes\nlast line";
        let mut out = Vec::new();
        let mut miner = TemplateMiner::default();
        let s = parse(input, &mut out, None, &mut miner).unwrap();
        assert_eq!(
            s,
            Summary {
                lines: 4,
                invalid_utf8: 1,
                unmatched: 0
            }
        );
        let text = String::from_utf8(out).unwrap();
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(rows[0], "line,template_id,template");
        assert_eq!(rows[1], "1,1,open file a.txt took <*>");
        // The variable keeps the suffix both names share (see `merge_token`).
        assert_eq!(rows[2], "2,1,open file <*>.txt took <*>");
        assert_eq!(rows[3], "3,2,\"\u{fffd}bad, bytes\"");
        assert_eq!(rows[4], "4,3,last line");
        assert_eq!(rows.len(), 5);
    }

    /// With evictions, ids keep growing past the miner's bound while the row ends stay
    /// within twice it; every row still carries its own template: a steady template shares
    /// its slot with new ones every few lines (ids a table's length apart), which a row end
    /// built afresh for each line confirms.
    #[test]
    fn row_ends_stay_bounded_and_right_when_templates_are_evicted() {
        // Letters only, from `g` on: no masking rule takes such a word for a variable.
        let word = |mut n: u64| {
            let mut w = String::from("x");
            while n > 0 {
                w.push(char::from(b'g' + (n % 20) as u8));
                n /= 20;
            }
            w
        };
        let config = MinerConfig {
            max_clusters: 3,
            ..MinerConfig::default()
        };
        let mut check = TemplateMiner::new(config.clone()).unwrap();
        let (mut input, mut expected) =
            (String::new(), String::from("line,template_id,template\n"));
        let mut tails = Tails::new(3);
        for n in 1..=2_000u64 {
            // Every other line the steady template; between them, a new one each time.
            let line = if n % 2 == 0 {
                "steady line here".to_owned()
            } else {
                format!("{} then done", word(n))
            };
            let m = check.add(&line);
            let template = csv_field(check.template(m.template_id).unwrap());
            expected.push_str(&format!("{n},{},{template}\n", m.template_id));
            input.push_str(&line);
            input.push('\n');
            tails.slot(m.template_id);
        }
        assert!(check.evictions() > 900, "{} evictions", check.evictions());
        assert!(check.next_id() > 1_000, "ids up to {}", check.next_id());
        assert_eq!(tails.slots.len(), 8);
        let mut out = Vec::new();
        let mut miner = TemplateMiner::new(config).unwrap();
        parse(input.as_bytes(), &mut out, None, &mut miner).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }
}
