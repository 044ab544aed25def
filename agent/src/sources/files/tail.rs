//! Reading one file: complete lines (or multiline events) out, in order, with the offset after
//! each so the consumer can checkpoint exactly what it processed. Memory per file is bounded by
//! `max_line_bytes`: a longer line is cut, the rest skipped up to its newline.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::time::Instant;

use regex::bytes::Regex;

use super::container::{Malformed, Wrapper};
use super::identity::{FileId, Head};
use super::position::ReadPos;

/// Bytes read per system call.
const CHUNK: usize = 64 * 1024;

/// How lines are cut and joined, per source.
pub(crate) struct LineRules {
    pub max_line_bytes: usize,
    pub multiline_start: Option<Regex>,
    pub container: ContainerRule,
}

/// Whether records are wrapped by a container runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContainerRule {
    Plain,
    Fixed(Wrapper),
    /// Each file's first non-empty record decides.
    Detect,
}

impl ContainerRule {
    pub fn of(c: seismo_config::ContainerFormat) -> ContainerRule {
        use seismo_config::ContainerFormat as C;
        match c {
            C::None => ContainerRule::Plain,
            C::Cri => ContainerRule::Fixed(Wrapper::Cri),
            C::Docker => ContainerRule::Fixed(Wrapper::Docker),
            C::Auto => ContainerRule::Detect,
        }
    }
}

/// Lines ready for the consumer: `text[ends[i-1]..ends[i]]` is line i, without its newline.
#[derive(Debug, Default)]
pub(crate) struct Lines {
    pub text: Vec<u8>,
    pub ends: Vec<u32>,
    /// Per line: the container stream it was written to (see [`Stream`]).
    pub streams: Vec<Stream>,
    /// Lines cut at `max_line_bytes`.
    pub truncated: u64,
    /// Container records that could not be decoded (skipped), and the last reason.
    pub malformed: u64,
    pub malformed_reason: Option<Malformed>,
}

impl Lines {
    /// Soft limits: a batch is handed over once past either.
    const MAX_LINES: usize = 2048;
    const MAX_BYTES: usize = 256 * 1024;

    pub fn is_full(&self) -> bool {
        self.ends.len() >= Self::MAX_LINES || self.text.len() >= Self::MAX_BYTES
    }

    /// Nothing to hand over: no line, and no skipped record to count.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty() && self.malformed == 0
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0usize;
        self.ends.iter().map(move |&e| {
            let line = &self.text[start..e as usize];
            start = e as usize;
            line
        })
    }

    /// The stream line `i` was written to, when its container record said.
    pub fn stream(&self, i: usize) -> Option<&'static str> {
        self.streams.get(i).and_then(|s| s.name())
    }

    fn push(&mut self, line: &[u8], stream: Stream) {
        self.streams.push(stream);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        self.text.extend_from_slice(line);
        self.ends
            .push(u32::try_from(self.text.len()).unwrap_or(u32::MAX));
    }
}

/// The stream a container record was written to; `None` for plain files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Stream {
    #[default]
    None,
    Stdout,
    Stderr,
}

impl Stream {
    pub fn name(self) -> Option<&'static str> {
        match self {
            Stream::None => None,
            Stream::Stdout => Some("stdout"),
            Stream::Stderr => Some("stderr"),
        }
    }
}

/// An event being assembled from a start line and its continuation lines.
struct Pending {
    /// The stream of its first record (container logs).
    stream: Stream,
    data: Vec<u8>,
    /// File offset of the start line: where to resume if the event is not finished.
    start: u64,
    truncated: bool,
}

/// One tracked file and where reading stands in it.
pub(crate) struct TailFile {
    pub path: PathBuf,
    pub id: FileId,
    pub head: Head,
    pub file: Option<File>,
    /// Next byte to read.
    read_pos: u64,
    /// An incomplete line: the bytes just before `read_pos`.
    buf: Vec<u8>,
    skipping: bool,
    pending: Option<Pending>,
    /// A container line whose partial records (CRI `P`, Docker `log` without `\n`) are being
    /// joined; never flushed on idleness, so a checkpoint never lands inside the sequence.
    partial: Option<Pending>,
    /// The file's container wrapper, once known (`Some(None)`: plain lines).
    wrapper: Option<Option<Wrapper>>,
    /// Last time reading found new bytes (or the file was first seen).
    pub last_growth: Instant,
    /// When the file was found deleted, or no longer at any matching path.
    pub gone_since: Option<Instant>,
    /// Found deleted (link count 0) while open.
    pub deleted: bool,
    /// For closing the least recently used handles.
    pub last_used: u64,
}

/// What one call to [`TailFile::read`] found.
#[derive(Debug, Default)]
pub(crate) struct ReadOutcome {
    pub bytes: u64,
    pub eof: bool,
}

impl TailFile {
    pub fn new(path: PathBuf, id: FileId, head: Head, pos: ReadPos) -> TailFile {
        TailFile {
            path,
            id,
            head,
            file: None,
            read_pos: pos.offset,
            buf: Vec::new(),
            skipping: pos.skipping,
            pending: None,
            partial: None,
            wrapper: None,
            last_growth: Instant::now(),
            gone_since: None,
            deleted: false,
            last_used: 0,
        }
    }

    /// Where a restart should resume once every line handed out so far is processed.
    pub fn checkpoint(&self) -> ReadPos {
        match self.pending.as_ref().or(self.partial.as_ref()) {
            Some(p) => ReadPos {
                offset: p.start,
                skipping: false,
            },
            None => ReadPos {
                offset: self.read_pos - self.buf.len() as u64,
                skipping: self.skipping,
            },
        }
    }

    /// Closes the handle and forgets what was read past the checkpoint (an incomplete line,
    /// an unfinished event): it is read again when the file is reopened. Memory held by
    /// closed files is therefore nil, whatever their content.
    pub fn close(&mut self) {
        let pos = self.checkpoint();
        self.file = None;
        self.read_pos = pos.offset;
        self.skipping = pos.skipping;
        self.buf = Vec::new();
        self.pending = None;
        self.partial = None;
    }

    /// Moves a file nothing was read from yet to `pos` (a copy that goes on from where its
    /// original stopped).
    pub fn start_at(&mut self, pos: ReadPos) {
        debug_assert!(self.read_pos == 0 && self.buf.is_empty() && self.pending.is_none());
        self.read_pos = pos.offset;
        self.skipping = pos.skipping;
    }

    pub fn read_pos(&self) -> u64 {
        self.read_pos
    }

    /// Bytes of the file handed out as lines (or held in an event under assembly): the read
    /// position less an incomplete last line.
    pub fn handed_out(&self) -> u64 {
        self.read_pos - self.buf.len() as u64
    }

    /// The file shrank below what was read, or was rewritten in place (copytruncate): start
    /// again at 0. An event under assembly from the old content is handed out first.
    pub fn restart(&mut self, out: &mut Lines) {
        self.flush_pending(out);
        self.flush_partial(out);
        self.wrapper = None;
        self.read_pos = 0;
        self.buf.clear();
        self.skipping = false;
        self.head = Head::EMPTY;
    }

    /// Reads up to `budget` bytes, stopping early when `out` is full.
    pub fn read(
        &mut self,
        rules: &LineRules,
        out: &mut Lines,
        budget: u64,
    ) -> io::Result<ReadOutcome> {
        let mut outcome = ReadOutcome::default();
        let Some(file) = self.file.take() else {
            return Ok(outcome);
        };
        let mut chunk = vec![0u8; CHUNK];
        let result = loop {
            if outcome.bytes >= budget || out.is_full() {
                break Ok(());
            }
            let want = chunk
                .len()
                .min(usize::try_from(budget - outcome.bytes).unwrap_or(CHUNK));
            let n = match file.read_at(&mut chunk[..want], self.read_pos) {
                Ok(0) => {
                    outcome.eof = true;
                    break Ok(());
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(e),
            };
            self.read_pos += n as u64;
            outcome.bytes += n as u64;
            self.split(&chunk[..n], rules, out);
        };
        self.file = Some(file);
        if outcome.bytes > 0 {
            self.last_growth = Instant::now();
        }
        result.map(|()| outcome)
    }

    /// Cuts `chunk` (the bytes just read, ending at `read_pos`) into lines.
    fn split(&mut self, chunk: &[u8], rules: &LineRules, out: &mut Lines) {
        let max = rules.max_line_bytes;
        let mut at = self.read_pos - chunk.len() as u64;
        let mut rest = chunk;
        while !rest.is_empty() {
            let newline = memchr::memchr(b'\n', rest);
            if self.skipping {
                match newline {
                    Some(i) => {
                        self.skipping = false;
                        rest = &rest[i + 1..];
                        at += i as u64 + 1;
                    }
                    None => rest = &[],
                }
                continue;
            }
            match newline {
                Some(i) => {
                    let line_start = at - self.buf.len() as u64;
                    let end = at + i as u64 + 1;
                    if self.buf.is_empty() {
                        let (line, cut) = cap(&rest[..i], max);
                        self.physical(line, cut, line_start, rules, out);
                    } else {
                        let room = max.saturating_sub(self.buf.len());
                        let take = i.min(room);
                        self.buf.extend_from_slice(&rest[..take]);
                        let buf = std::mem::take(&mut self.buf);
                        self.physical(&buf, take < i, line_start, rules, out);
                        self.buf = buf;
                        self.buf.clear();
                        self.buf.shrink_to(CHUNK);
                    }
                    rest = &rest[i + 1..];
                    at = end;
                }
                None => {
                    let room = max.saturating_sub(self.buf.len());
                    if rest.len() < room {
                        self.buf.extend_from_slice(rest);
                        rest = &[];
                    } else {
                        // Longer than allowed and still no newline: hand out the head now,
                        // skip the rest of the line.
                        let line_start = at - self.buf.len() as u64;
                        self.buf.extend_from_slice(&rest[..room]);
                        let end = at + room as u64;
                        let buf = std::mem::take(&mut self.buf);
                        self.skipping = true;
                        self.physical(&buf, true, line_start, rules, out);
                        self.buf = buf;
                        self.buf.clear();
                        self.buf.shrink_to(CHUNK);
                        rest = &rest[room..];
                        at = end;
                    }
                }
            }
        }
    }

    /// One physical line: decoded from its container record, if any, then handed out or
    /// joined into a multiline event.
    fn physical(
        &mut self,
        line: &[u8],
        truncated: bool,
        start: u64,
        rules: &LineRules,
        out: &mut Lines,
    ) {
        let wrapper = match (self.wrapper, rules.container) {
            (Some(w), _) => w,
            (None, ContainerRule::Plain) => None,
            (None, ContainerRule::Fixed(w)) => {
                self.wrapper = Some(Some(w));
                Some(w)
            }
            (None, ContainerRule::Detect) if line.is_empty() => None,
            (None, ContainerRule::Detect) => {
                let w = Wrapper::detect(line.strip_suffix(b"\r").unwrap_or(line));
                self.wrapper = Some(w);
                w
            }
        };
        match wrapper {
            Some(w) => self.record(w, line, truncated, start, rules, out),
            None => self.logical(line, truncated, start, Stream::None, rules, out),
        }
    }

    /// One container record: its message joined to the partial line, which is handed out
    /// once a record ends it. Bad records are counted and skipped.
    fn record(
        &mut self,
        w: Wrapper,
        line: &[u8],
        truncated: bool,
        start: u64,
        rules: &LineRules,
        out: &mut Lines,
    ) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let rec = match w.decode(line) {
            Ok(r) => r,
            // A record cut at `max_line_bytes` is counted as truncated, not as malformed.
            Err(_) if truncated => {
                out.truncated += 1;
                return;
            }
            Err(e) => {
                out.malformed += 1;
                out.malformed_reason = Some(e);
                return;
            }
        };
        let stream = if rec.stderr {
            Stream::Stderr
        } else {
            Stream::Stdout
        };
        let p = self.partial.get_or_insert_with(|| Pending {
            stream,
            data: Vec::new(),
            start,
            truncated: false,
        });
        let room = rules.max_line_bytes.saturating_sub(p.data.len());
        let take = rec.message.len().min(room);
        p.data.extend_from_slice(&rec.message[..take]);
        p.truncated |= truncated || take < rec.message.len();
        if !rec.partial {
            self.flush_partial_with(rules, out);
        }
    }

    fn flush_partial_with(&mut self, rules: &LineRules, out: &mut Lines) {
        if let Some(p) = self.partial.take() {
            self.logical(&p.data, p.truncated, p.start, p.stream, rules, out);
        }
    }

    /// Hands out a partial container line as it is (the file is finished or was rewritten).
    fn flush_partial(&mut self, out: &mut Lines) {
        if let Some(p) = self.partial.take() {
            out.truncated += u64::from(p.truncated);
            out.push(&p.data, p.stream);
        }
    }

    /// One logical line: handed out, or joined into a multiline event.
    fn logical(
        &mut self,
        line: &[u8],
        truncated: bool,
        start: u64,
        stream: Stream,
        rules: &LineRules,
        out: &mut Lines,
    ) {
        let Some(re) = &rules.multiline_start else {
            out.truncated += u64::from(truncated);
            out.push(line, stream);
            return;
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if self.pending.is_none() || re.is_match(line) {
            self.flush_pending(out);
            self.pending = Some(Pending {
                stream,
                data: line.to_vec(),
                start,
                truncated,
            });
            return;
        }
        if let Some(p) = &mut self.pending {
            let room = rules.max_line_bytes.saturating_sub(p.data.len());
            if room > line.len() {
                p.data.push(b'\n');
                p.data.extend_from_slice(line);
                p.truncated |= truncated;
            } else {
                p.data.extend_from_slice(&b"\n"[..room.min(1)]);
                p.data
                    .extend_from_slice(&line[..room.saturating_sub(1).min(line.len())]);
                p.truncated = true;
            }
        }
    }

    /// Hands out the event under assembly, if any.
    pub fn flush_pending(&mut self, out: &mut Lines) {
        if let Some(p) = self.pending.take() {
            out.truncated += u64::from(p.truncated);
            out.push(&p.data, p.stream);
        }
    }

    pub fn has_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// The file is finished (deleted or rotated away and idle): hand out an unterminated last
    /// line and any event under assembly.
    pub fn finish(&mut self, rules: &LineRules, out: &mut Lines) {
        if !self.buf.is_empty() && !self.skipping {
            let buf = std::mem::take(&mut self.buf);
            let start = self.read_pos - buf.len() as u64;
            self.physical(&buf, false, start, rules, out);
        }
        self.buf.clear();
        self.flush_partial_with(rules, out);
        self.flush_pending(out);
    }
}

fn cap(line: &[u8], max: usize) -> (&[u8], bool) {
    if line.len() > max {
        (&line[..max], true)
    } else {
        (line, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn rules(max: usize, multiline: Option<&str>) -> LineRules {
        LineRules {
            max_line_bytes: max,
            multiline_start: multiline.map(|m| Regex::new(m).unwrap()),
            container: ContainerRule::Plain,
        }
    }

    fn lines(out: &Lines) -> Vec<String> {
        out.iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect()
    }

    fn open(dir: &tempfile::TempDir, content: &[u8]) -> (std::fs::File, TailFile) {
        let path = dir.path().join("f.log");
        let mut w = std::fs::File::create(&path).unwrap();
        w.write_all(content).unwrap();
        let mut t = TailFile::new(
            path.clone(),
            FileId { dev: 0, ino: 0 },
            Head::EMPTY,
            ReadPos::default(),
        );
        t.file = Some(std::fs::File::open(&path).unwrap());
        (w, t)
    }

    fn container(max: usize, c: ContainerRule) -> LineRules {
        LineRules {
            container: c,
            ..rules(max, None)
        }
    }

    const CRI: ContainerRule = ContainerRule::Fixed(Wrapper::Cri);
    const DOCKER: ContainerRule = ContainerRule::Fixed(Wrapper::Docker);

    #[test]
    fn cri_partial_records_join_and_the_checkpoint_stays_before_them() {
        let dir = tempfile::tempdir().unwrap();
        let first = b"2026-11-26T01:00:00Z stdout F one\n";
        let (mut w, mut t) = open(
            &dir,
            &[&first[..], b"2026-11-26T01:00:01Z stdout P tw\n"].concat(),
        );
        let r = container(1024, CRI);
        let mut out = Lines::default();
        t.read(&r, &mut out, u64::MAX).unwrap();
        assert_eq!(lines(&out), ["one"]);
        assert_eq!(t.checkpoint().offset, first.len() as u64);
        assert!(
            !t.has_pending(),
            "a partial sequence is never flushed for idleness"
        );
        w.write_all(b"2026-11-26T01:00:01Z stdout P o \n2026-11-26T01:00:01Z stdout F three\n")
            .unwrap();
        t.read(&r, &mut out, u64::MAX).unwrap();
        assert_eq!(lines(&out), ["one", "two three"]);
        assert_eq!(t.checkpoint().offset, t.read_pos());
    }

    #[test]
    fn a_100_kb_line_split_across_records_is_joined_or_cut_at_the_bound() {
        for (rule, big) in [(CRI, true), (DOCKER, true), (CRI, false), (DOCKER, false)] {
            let dir = tempfile::tempdir().unwrap();
            let msg: String = (0..100 * 1024)
                .map(|i| (b'a' + (i % 26) as u8) as char)
                .collect();
            let mut content = Vec::new();
            for (i, piece) in msg.as_bytes().chunks(16 * 1024).enumerate() {
                let last = (i + 1) * 16 * 1024 >= msg.len();
                let piece = std::str::from_utf8(piece).unwrap();
                let rec = if rule == CRI {
                    let tag = if last { "F" } else { "P" };
                    format!("2026-11-26T01:00:00.{i:09}Z stderr {tag} {piece}\n")
                } else {
                    let nl = if last { "\\n" } else { "" };
                    format!("{{\"log\":\"{piece}{nl}\",\"stream\":\"stdout\",\"time\":\"2026-11-26T01:00:00Z\"}}\n")
                };
                content.extend_from_slice(rec.as_bytes());
            }
            content.extend_from_slice(if rule == CRI {
                b"2026-11-26T01:00:02Z stdout F after\n"
            } else {
                b"{\"log\":\"after\\n\",\"stream\":\"stdout\"}\n"
            });
            let (_w, mut t) = open(&dir, &content);
            let max = if big { 1 << 20 } else { 40 * 1024 };
            let r = container(max, rule);
            let mut out = Lines::default();
            t.read(&r, &mut out, u64::MAX).unwrap();
            let got = lines(&out);
            assert_eq!(got.len(), 2, "{rule:?}");
            if big {
                assert_eq!(got[0], msg);
                assert_eq!(out.truncated, 0);
            } else {
                assert_eq!(got[0], msg[..max]);
                assert_eq!(out.truncated, 1);
            }
            assert_eq!(got[1], "after");
            assert_eq!(t.checkpoint().offset, content.len() as u64);
        }
    }

    #[test]
    fn malformed_records_are_counted_and_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let (_w, mut t) = open(
            &dir,
            b"{\"log\":\"a\\n\",\"stream\":\"stdout\"}\n{\"log\":\"cut\n{\"stream\":\"stdout\"}\nnot json\n{\"log\":\"b\\n\",\"stream\":\"stderr\"}\n",
        );
        let r = container(1024, DOCKER);
        let mut out = Lines::default();
        t.read(&r, &mut out, u64::MAX).unwrap();
        assert_eq!(lines(&out), ["a", "b"]);
        assert_eq!(out.malformed, 3);
        assert_eq!(out.malformed_reason, Some(Malformed::Json));
        assert_eq!(t.checkpoint().offset, t.read_pos());
    }

    #[test]
    fn detection_decides_per_file_and_leaves_plain_files_alone() {
        let dir = tempfile::tempdir().unwrap();
        let (_w, mut t) = open(&dir, b"2026-11-26T01:00:00Z stdout F x\nnot cri\n");
        let mut out = Lines::default();
        t.read(&container(1024, ContainerRule::Detect), &mut out, u64::MAX)
            .unwrap();
        assert_eq!(lines(&out), ["x"]);
        assert_eq!(out.malformed, 1);
        let dir = tempfile::tempdir().unwrap();
        let (_w, mut t) = open(&dir, b"plain 2026\n2026-11-26T01:00:00Z stdout F x\n");
        let mut out = Lines::default();
        t.read(&container(1024, ContainerRule::Detect), &mut out, u64::MAX)
            .unwrap();
        assert_eq!(
            lines(&out),
            ["plain 2026", "2026-11-26T01:00:00Z stdout F x"]
        );
    }

    #[test]
    fn complete_lines_only_with_exact_checkpoints() {
        let dir = tempfile::tempdir().unwrap();
        let (mut w, mut t) = open(&dir, b"one\r\ntwo\nthr");
        let r = rules(1024, None);
        let mut out = Lines::default();
        t.read(&r, &mut out, u64::MAX).unwrap();
        assert_eq!(lines(&out), ["one", "two"]);
        assert_eq!(
            t.checkpoint(),
            ReadPos {
                offset: 9,
                skipping: false
            }
        );
        w.write_all(b"ee\n").unwrap();
        t.read(&r, &mut out, u64::MAX).unwrap();
        assert_eq!(lines(&out), ["one", "two", "three"]);
        assert_eq!(t.checkpoint().offset, 15);
    }

    #[test]
    fn long_lines_are_cut_and_the_rest_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let mut content = vec![b'a'; 300];
        content.extend_from_slice(b"\nshort\n");
        content.extend(vec![b'b'; 1000]);
        let (mut w, mut t) = open(&dir, &content);
        let r = rules(256, None);
        let mut out = Lines::default();
        t.read(&r, &mut out, u64::MAX).unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!(out.truncated, 2);
        assert_eq!(lines(&out)[1], "short");
        assert_eq!(lines(&out)[2].len(), 256);
        // Everything read is consumed: the head was handed out, the rest skipped so far.
        assert_eq!(
            t.checkpoint(),
            ReadPos {
                offset: 301 + 6 + 1000,
                skipping: true
            }
        );
        w.write_all(b"bbb\nnext\n").unwrap();
        t.read(&r, &mut out, u64::MAX).unwrap();
        assert_eq!(lines(&out)[3], "next");
        assert!(!t.checkpoint().skipping);
    }

    #[test]
    fn multiline_events_join_until_the_next_start() {
        let dir = tempfile::tempdir().unwrap();
        let (_w, mut t) = open(
            &dir,
            b"2026 start one\n  at a\n  at b\n2026 start two\n  at c\n",
        );
        let r = rules(1024, Some(r"^\d{4} "));
        let mut out = Lines::default();
        t.read(&r, &mut out, u64::MAX).unwrap();
        assert_eq!(lines(&out), ["2026 start one\n  at a\n  at b"]);
        assert_eq!(t.checkpoint().offset, 29, "resume at the unfinished event");
        t.flush_pending(&mut out);
        assert_eq!(lines(&out)[1], "2026 start two\n  at c");
    }

    #[test]
    fn closing_forgets_unfinished_bytes_and_reopening_reads_them_again() {
        let dir = tempfile::tempdir().unwrap();
        let (mut w, mut t) = open(&dir, b"a\npart");
        let r = rules(1024, None);
        let mut out = Lines::default();
        t.read(&r, &mut out, u64::MAX).unwrap();
        t.close();
        assert_eq!(t.read_pos(), 2);
        w.write_all(b"ial\n").unwrap();
        t.file = Some(std::fs::File::open(&t.path).unwrap());
        t.read(&r, &mut out, u64::MAX).unwrap();
        assert_eq!(lines(&out), ["a", "partial"]);
    }

    #[test]
    fn an_unterminated_last_line_is_handed_out_when_the_file_is_finished() {
        let dir = tempfile::tempdir().unwrap();
        let (_w, mut t) = open(&dir, b"a\nb");
        let r = rules(1024, None);
        let mut out = Lines::default();
        t.read(&r, &mut out, u64::MAX).unwrap();
        assert_eq!(lines(&out), ["a"]);
        t.finish(&r, &mut out);
        assert_eq!(lines(&out), ["a", "b"]);
        assert_eq!(t.checkpoint().offset, 3);
    }
}
