//! The lines of `seismo logparse`'s input: `\n` ends a line, a `\r` before it is dropped, a
//! missing final newline is fine, invalid UTF-8 is replaced (U+FFFD) and counted.
//!
//! Lines are taken straight from the reader's buffer; only a line that straddles two buffer
//! fills is copied. Most logs are ASCII: on x86_64 with AVX2 a buffer's lines are found 64
//! bytes at a time, the same pass testing the bytes for ASCII (which is UTF-8), so a line costs
//! no UTF-8 check and no search of its own; a stretch holding another byte, and other machines,
//! take the general way (a UTF-8 check of many lines at once, then a search per line).

use std::io::{self, BufRead};

/// What takes the lines: a line, and whether it held invalid UTF-8 (then replaced).
pub(super) trait LineSink {
    fn line(&mut self, line: &str, invalid: bool) -> io::Result<()>;
}

impl<F: FnMut(&str, bool) -> io::Result<()>> LineSink for F {
    fn line(&mut self, line: &str, invalid: bool) -> io::Result<()> {
        self(line, invalid)
    }
}

/// Gives `f` each line of `input`.
pub(super) fn for_each_line<R: BufRead>(input: R, f: &mut impl LineSink) -> io::Result<()> {
    split(&Scan::new(), input, f)
}

/// [`for_each_line`] with blocks split by `scan`.
fn split<R: BufRead>(scan: &Scan, mut input: R, f: &mut impl LineSink) -> io::Result<()> {
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
                line_of_bytes(&partial, f)?;
                partial.clear();
                rest = &rest[end + 1..];
            } else {
                rest = &[];
            }
        }
        if let Some(last) = memchr::memrchr(b'\n', rest) {
            scan.block(&rest[..last], f)?;
            rest = &rest[last + 1..];
        }
        partial.extend_from_slice(rest);
        input.consume(filled);
    }
    // A last line without its newline.
    if !partial.is_empty() {
        line_of_bytes(&partial, f)?;
    }
    Ok(())
}

/// How a block of lines is split: found once, as the machine allows.
struct Scan {
    #[cfg(target_arch = "x86_64")]
    avx2: bool,
    newline: Newline,
}

impl Scan {
    fn new() -> Self {
        Self {
            #[cfg(target_arch = "x86_64")]
            avx2: std::arch::is_x86_feature_detected!("avx2"),
            newline: Newline::new(),
        }
    }

    /// Lines separated by `\n`, the block ending without its last line's newline (so an empty
    /// last segment is an empty line).
    fn block(&self, b: &[u8], f: &mut impl LineSink) -> io::Result<()> {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: the machine has AVX2 (detected in `new`), all that `ascii_lines_avx2`
            // needs beyond this function's own features.
            return unsafe { ascii_lines_avx2(b, &self.newline, f) };
        }
        block(b, &self.newline, f)
    }
}

/// [`Scan::block`] 64 bytes at a time: the newlines of each 64 bytes as a bit mask, and
/// whether they are all ASCII. A line whose bytes all passed is valid UTF-8 as it is; the
/// lines through the end of 64 bytes that did not pass, and the block's last bytes short of
/// 64, take the general way ([`block`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn ascii_lines_avx2(b: &[u8], newline: &Newline, f: &mut impl LineSink) -> io::Result<()> {
    // The current line starts at `start`; the bytes from it to `at` are ASCII.
    let mut start = 0;
    let mut at = 0;
    while let Some(chunk) = b.get(at..at + 64) {
        let Ok(chunk) = <&[u8; 64]>::try_from(chunk) else {
            break;
        };
        let (mut ends, ascii) = newlines_avx2(chunk);
        if !ascii {
            // Up to the end of the line that holds these bytes' last one, then on from there.
            let Some(k) = memchr::memchr(b'\n', &b[at + 64..]) else {
                break;
            };
            let end = at + 64 + k;
            block(&b[start..end], newline, f)?;
            start = end + 1;
            at = start;
            continue;
        }
        while ends != 0 {
            let end = at + ends.trailing_zeros() as usize;
            ends &= ends - 1;
            // SAFETY: every byte of the line is ASCII (it lies within the bytes that passed
            // the test, from `start` through this chunk), and ASCII is UTF-8.
            let line = unsafe { std::str::from_utf8_unchecked(&b[start..end]) };
            f.line(strip_cr(line), false)?;
            start = end + 1;
        }
        at += 64;
    }
    block(&b[start..], newline, f)
}

/// The positions of `\n` in `chunk` as bits (the first byte's the lowest), and whether every
/// byte is ASCII.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn newlines_avx2(chunk: &[u8; 64]) -> (u64, bool) {
    use std::arch::x86_64::{
        _mm256_cmpeq_epi8, _mm256_movemask_epi8, _mm256_or_si256, _mm256_set1_epi8,
        _mm256_set_epi64x,
    };
    // Each half as four words to a register (the compiler makes it one load).
    let half = |h: &[u8]| {
        let mut x = [0u8; 32];
        x.copy_from_slice(h);
        let w = |k: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&x[k..k + 8]);
            i64::from_le_bytes(w)
        };
        _mm256_set_epi64x(w(24), w(16), w(8), w(0))
    };
    let (lo, hi) = (half(&chunk[..32]), half(&chunk[32..]));
    let nl = _mm256_set1_epi8(b'\n' as i8);
    // Each byte's top bit: set in none for ASCII.
    let ascii = _mm256_movemask_epi8(_mm256_or_si256(lo, hi)) == 0;
    let lo = _mm256_movemask_epi8(_mm256_cmpeq_epi8(lo, nl)) as u32;
    let hi = _mm256_movemask_epi8(_mm256_cmpeq_epi8(hi, nl)) as u32;
    (u64::from(lo) | u64::from(hi) << 32, ascii)
}

/// [`Scan::block`] the general way: stretches of valid UTF-8 (an ASCII block is tested as
/// such first, which costs less) are split as they are; a line that holds an invalid byte goes
/// through [`line_of_bytes`].
fn block(mut block: &[u8], newline: &Newline, f: &mut impl LineSink) -> io::Result<()> {
    if block.is_ascii() {
        // SAFETY: ASCII is UTF-8.
        return lines(unsafe { std::str::from_utf8_unchecked(block) }, newline, f);
    }
    loop {
        let bad = match std::str::from_utf8(block) {
            Ok(text) => return lines(text, newline, f),
            Err(e) => e.valid_up_to(),
        };
        // The whole lines before the invalid byte are valid: checked again, to be a `str`
        // (only blocks with invalid bytes pay it).
        let start = match memchr::memrchr(b'\n', &block[..bad]) {
            Some(k) => {
                let text = std::str::from_utf8(&block[..k])
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                lines(text, newline, f)?;
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

/// Valid lines separated by `\n`, the last one without it.
fn lines(mut text: &str, newline: &Newline, f: &mut impl LineSink) -> io::Result<()> {
    while let Some(end) = newline.find(text.as_bytes()) {
        f.line(strip_cr(&text[..end]), false)?;
        text = &text[end + 1..];
    }
    f.line(strip_cr(text), false)
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
fn line_of_bytes(bytes: &[u8], f: &mut impl LineSink) -> io::Result<()> {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => f.line(s, false),
        Err(_) => f.line(&String::from_utf8_lossy(bytes), true),
    }
}

/// A line without the `\r` of its `\r\n`.
fn strip_cr(line: &str) -> &str {
    line.strip_suffix('\r').unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ways of splitting a block this machine has: the general one always, AVX2's when
    /// it has AVX2 (said once, so that a run without it is seen).
    fn scans() -> Vec<Scan> {
        let mut all = vec![Scan {
            #[cfg(target_arch = "x86_64")]
            avx2: false,
            newline: Newline::new(),
        }];
        let fast = Scan::new();
        #[cfg(target_arch = "x86_64")]
        if fast.avx2 {
            all.push(fast);
        } else {
            eprintln!("no AVX2 here: only the general way is tested");
        }
        all
    }

    /// The lines `scan` gives for `input` read through a buffer of `capacity` bytes.
    fn lines_read_by(scan: &Scan, input: &[u8], capacity: usize) -> Vec<(String, bool)> {
        let mut got = Vec::new();
        let reader = io::BufReader::with_capacity(capacity, input);
        split(scan, reader, &mut |line: &str, invalid| {
            got.push((line.to_string(), invalid));
            Ok(())
        })
        .unwrap();
        got
    }

    /// The lines every way of splitting gives for `input` read through a buffer of `capacity`
    /// bytes, when they agree (and a panic when they do not).
    fn lines_read(input: &[u8], capacity: usize) -> Vec<(String, bool)> {
        let all: Vec<_> = scans()
            .iter()
            .map(|scan| lines_read_by(scan, input, capacity))
            .collect();
        for other in &all[1..] {
            assert_eq!(
                other,
                &all[0],
                "{:?} in {capacity}",
                String::from_utf8_lossy(input)
            );
        }
        all.into_iter().next().unwrap_or_default()
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

    /// ASCII lines of several lengths (short ones, some over 64 bytes), some ending in `\r`.
    fn ascii_lines() -> Vec<u8> {
        let mut input = Vec::new();
        for (i, len) in [3usize, 70, 0, 11, 64, 63, 1, 130, 20, 65, 9]
            .iter()
            .enumerate()
        {
            input.extend((0..*len).map(|k| b'a' + ((i + k) % 26) as u8));
            if i % 3 == 1 {
                input.push(b'\r');
            }
            input.push(b'\n');
        }
        input
    }

    #[test]
    fn a_byte_of_any_kind_anywhere_in_a_block_is_read_as_line_by_line() {
        // Each near-miss of the ASCII test at every place of lines that span several 64-byte
        // stretches: non-ASCII bytes (invalid alone, or a whole character), control bytes and
        // white space (ASCII, so no miss), a newline (a line more) and `\r`; read through
        // buffers that cut the blocks at stretch boundaries and off them.
        let base = ascii_lines();
        let inserts: [&[u8]; 9] = [
            b"\xff",
            b"\x80",
            b"\xc3\xa9",
            b"\xe2\x82\xac",
            b"\xc3",
            b"\t",
            b"\x00\x7f",
            b"\n",
            b"\r",
        ];
        for insert in inserts {
            for at in 0..=base.len() {
                let mut input = base.clone();
                input.splice(at..at, insert.iter().copied());
                let want = lines_expected(&input);
                for capacity in [64, 100, 128, 129, 1 << 16] {
                    assert_eq!(
                        lines_read(&input, capacity),
                        want,
                        "{insert:?} at {at} in {capacity}"
                    );
                }
            }
        }
        // Without a final newline, the block's last line is cut anywhere.
        for cut in 0..=base.len() {
            let want = lines_expected(&base[..cut]);
            assert_eq!(lines_read(&base[..cut], 1 << 16), want, "cut at {cut}");
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_newlines_of_64_bytes_are_their_bits_and_ascii_is_told_apart() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            eprintln!("no AVX2 here: not tested");
            return;
        }
        let alphabet = [b'a', b'\n', b'\r', b' ', 0, 0x7f, 0x80, 0xff, 0x0a + 0x80];
        let mut next = xorshift(0x2545_f491_4f6c_dd1d);
        for round in 0..20_000 {
            let mut chunk = [b'x'; 64];
            // Mostly a few bytes of interest among plain ones.
            for _ in 0..(next() % 8) {
                let at = (next() % 64) as usize;
                chunk[at] = alphabet[(next() % alphabet.len() as u64) as usize];
            }
            if round % 7 == 0 {
                chunk = [b'\n'; 64];
            }
            let ends = (0..64).fold(0u64, |m, k| m | u64::from(chunk[k] == b'\n') << k);
            // SAFETY: AVX2 is present (tested above).
            let got = unsafe { newlines_avx2(&chunk) };
            assert_eq!(got, (ends, chunk.is_ascii()), "{chunk:?}");
        }
    }

    /// A xorshift generator (the tests' own, no crate).
    fn xorshift(mut x: u64) -> impl FnMut() -> u64 {
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }
}
