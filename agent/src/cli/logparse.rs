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
//! [`seismo_detectors::split_header`] and only the message is mined, as the agent's sources do.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use seismo_detectors::{split_header, LogFormat, MinerConfig, TemplateMiner, VariableForm};

use crate::cli::exit::EXIT_USAGE;

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
            let input = BufReader::with_capacity(1 << 20, f);
            // `parse` writes its rows in blocks of its own.
            let mut out = io::stdout().lock();
            let summary = parse(input, &mut out, format.as_ref(), &mut miner)
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
    let mut summary = Summary::default();
    // Each template's end of row (`,id,template\n`), built when a line needs it and rebuilt
    // when the template changes; a row is the line number and that.
    let mut tails = Tails::new(miner.config().max_clusters);
    let mut number = LineNumber::default();
    let mut rows: Vec<u8> = Vec::with_capacity(ROWS_BLOCK + 4096);
    rows.extend_from_slice(b"line,template_id,template\n");
    for_each_line(input, |line, invalid| {
        summary.invalid_utf8 += u64::from(invalid);
        summary.lines += 1;
        number.increment();
        let content = match format {
            None => split_header(line).content(),
            Some(f) => match f.split(line) {
                Some(fields) => fields.content(),
                None => {
                    summary.unmatched += 1;
                    line
                }
            },
        };
        let m = miner.add(content);
        let id = m.template_id;
        let (owner, tail) = tails.slot(id);
        if *owner != id || m.is_new || m.template_changed {
            *owner = id;
            tail.clear();
            tail.push(b',');
            push_u64(tail, id);
            tail.push(b',');
            tail.extend_from_slice(csv_field(miner.template(id).unwrap_or("")).as_bytes());
            tail.push(b'\n');
        }
        number.write_to(&mut rows);
        rows.extend_from_slice(tail);
        if rows.len() >= ROWS_BLOCK {
            out.write_all(&rows)?;
            rows.clear();
        }
        Ok(())
    })?;
    out.write_all(&rows)?;
    Ok(summary)
}

/// Calls `f` with each line of `input` and whether it held invalid UTF-8: `\n` ends a line, a
/// `\r` before it is dropped, a missing final newline is fine, invalid UTF-8 is replaced
/// (U+FFFD).
///
/// Lines are taken straight from the reader's buffer, whose complete lines are checked for
/// UTF-8 at once (far cheaper than line by line); only a line that straddles two buffer fills
/// is copied (into `partial`).
fn for_each_line<R: BufRead>(
    mut input: R,
    mut f: impl FnMut(&str, bool) -> io::Result<()>,
) -> io::Result<()> {
    let mut partial = Vec::new();
    loop {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        let filled = chunk.len();
        let mut rest = chunk;
        if !partial.is_empty() {
            let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
            partial.extend_from_slice(&rest[..end]);
            if end < rest.len() {
                line_of_bytes(&partial, &mut f)?;
                partial.clear();
                rest = &rest[end + 1..];
            } else {
                rest = &[];
            }
        }
        if let Some(last) = memchr::memrchr(b'\n', rest) {
            block(&rest[..last], &mut f)?;
            rest = &rest[last + 1..];
        }
        partial.extend_from_slice(rest);
        input.consume(filled);
    }
    // A last line without its newline.
    if !partial.is_empty() {
        line_of_bytes(&partial, &mut f)?;
    }
    Ok(())
}

/// Lines separated by `\n`, the block ending without its last line's newline (so an empty last
/// segment is an empty line). Stretches of valid UTF-8 are split as they are; a line that
/// holds an invalid byte goes through [`line_of_bytes`].
fn block(mut block: &[u8], f: &mut impl FnMut(&str, bool) -> io::Result<()>) -> io::Result<()> {
    loop {
        let bad = match std::str::from_utf8(block) {
            Ok(text) => return lines(text, f),
            Err(e) => e.valid_up_to(),
        };
        // The whole lines before the invalid byte are valid: checked again, to be a `str`
        // (only blocks with invalid bytes pay it).
        let start = match memchr::memrchr(b'\n', &block[..bad]) {
            Some(k) => {
                let text = std::str::from_utf8(&block[..k])
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                lines(text, f)?;
                k + 1
            }
            None => 0,
        };
        let Some(k) = memchr::memchr(b'\n', &block[bad..]) else {
            return line_of_bytes(&block[start..], f);
        };
        line_of_bytes(&block[start..bad + k], f)?;
        block = &block[bad + k + 1..];
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

/// Valid lines separated by `\n`, the last one without it.
fn lines(mut text: &str, f: &mut impl FnMut(&str, bool) -> io::Result<()>) -> io::Result<()> {
    let newline = Newline::new();
    while let Some(end) = newline.find(text.as_bytes()) {
        f(strip_cr(&text[..end]), false)?;
        text = &text[end + 1..];
    }
    f(strip_cr(text), false)
}

/// The search for a line's end. On x86_64 with AVX2, memchr's AVX2 searcher is called
/// directly: `memchr::memchr` reaches the same code through a function pointer and two calls
/// more, which cost about a quarter of the search on a line of a hundred bytes.
struct Newline {
    #[cfg(target_arch = "x86_64")]
    avx2: Option<memchr::arch::x86_64::avx2::memchr::One>,
}

impl Newline {
    fn new() -> Self {
        Self {
            #[cfg(target_arch = "x86_64")]
            avx2: memchr::arch::x86_64::avx2::memchr::One::new(b'\n'),
        }
    }

    #[inline]
    fn find(&self, b: &[u8]) -> Option<usize> {
        #[cfg(target_arch = "x86_64")]
        if let Some(avx2) = &self.avx2 {
            return avx2.find(b);
        }
        memchr::memchr(b'\n', b)
    }
}

/// One line without its `\n`, of any UTF-8 validity.
fn line_of_bytes(bytes: &[u8], f: &mut impl FnMut(&str, bool) -> io::Result<()>) -> io::Result<()> {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => f(s, false),
        Err(_) => f(&String::from_utf8_lossy(bytes), true),
    }
}

/// A line without the `\r` of its `\r\n`.
fn strip_cr(line: &str) -> &str {
    line.strip_suffix('\r').unwrap_or(line)
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

    /// The lines `for_each_line` gives for `input` read through a buffer of `capacity` bytes.
    fn lines_read(input: &[u8], capacity: usize) -> Vec<(String, bool)> {
        let mut got = Vec::new();
        let reader = io::BufReader::with_capacity(capacity, input);
        for_each_line(reader, |line, invalid| {
            got.push((line.to_string(), invalid));
            Ok(())
        })
        .unwrap();
        got
    }

    /// The lines of `input` the plain way: split on `\n`, each checked for UTF-8 on its own.
    fn lines_expected(input: &[u8]) -> Vec<(String, bool)> {
        let mut parts: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
        if parts.last().is_some_and(|p| p.is_empty()) {
            parts.pop();
        }
        parts
            .into_iter()
            .map(|p| {
                let p = p.strip_suffix(b"\r").unwrap_or(p);
                let invalid = std::str::from_utf8(p).is_err();
                (String::from_utf8_lossy(p).into_owned(), invalid)
            })
            .collect()
    }

    #[test]
    fn lines_are_split_and_checked_as_line_by_line_whatever_the_buffer() {
        // Near-misses of the block path: invalid bytes at a line's start, middle and end, next
        // to `\r` and `\n`, several in one line and in consecutive lines, multi-byte characters
        // (cut by buffer fills), empty lines, `\r` alone, a missing final newline.
        let cases: [&[u8]; 12] = [
            b"",
            b"\n",
            b"\n\n\r\n",
            b"plain\nlines\n",
            b"\xffstart\nmid\xfedle\nend\xff\n\xff\n",
            b"a\xff\xfe\nb\xc3\n\xc3\xa9t\xc3\xa9\r\n",
            b"two\xff bad\xff in one\r\nnext\xff\r\nclean \xe2\x82\xac\n",
            b"\xff\r\n\r\n\xff",
            b"caf\xc3\xa9\ncaf\xc3\n\xa9 torn\n",
            b"last \xf0\x9f\x98\x80 no newline",
            b"\r\r\n\xff\r\r\nx\r",
            b"\xe2\x82\n\xe2\x82\xac\xe2\n",
        ];
        for input in cases {
            let want = lines_expected(input);
            for capacity in 1..=input.len().max(1) + 1 {
                assert_eq!(
                    lines_read(input, capacity),
                    want,
                    "{:?} in a buffer of {capacity}",
                    String::from_utf8_lossy(input)
                );
            }
        }
        // Random mixes of those bytes, in buffers of many sizes.
        let alphabet: &[u8] = b"ab \n\r\xff\xc3\xa9\xe2\x82\xac\xf0\x9f";
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..400 {
            let len = (x % 60) as usize;
            let input: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    alphabet[(x % alphabet.len() as u64) as usize]
                })
                .collect();
            let want = lines_expected(&input);
            for capacity in [1, 2, 3, 5, 8, 13, 64] {
                assert_eq!(
                    lines_read(&input, capacity),
                    want,
                    "{input:?} in {capacity}"
                );
            }
            x = x.wrapping_add(0x632b_e59b_d9b4_e019);
        }
    }

    #[test]
    fn the_newline_search_finds_the_first_newline_at_any_length() {
        // Lengths across the searcher's cases (under 16, under 32, whole vectors, the tail),
        // the newline at every place, or none.
        let newline = Newline::new();
        for len in 0..200 {
            let mut b = vec![b'a'; len];
            assert_eq!(newline.find(&b), None, "none in {len}");
            for at in 0..len {
                b[at] = b'\n';
                assert_eq!(newline.find(&b), Some(at), "at {at} of {len}");
                if at + 1 < len {
                    b[len - 1] = b'\n';
                    assert_eq!(newline.find(&b), Some(at), "first at {at} of {len}");
                    b[len - 1] = b'a';
                }
                b[at] = b'a';
            }
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
