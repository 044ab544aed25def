//! Streaming log template mining (Drain: He et al., ICWS 2017), with masking, a bounded number
//! of templates and stable template ids.
//!
//! # API
//!
//! ```
//! use seismo_detectors::{LogFormat, MinerConfig, TemplateMiner};
//!
//! let mut miner = TemplateMiner::new(MinerConfig::default()).unwrap(); // or ::default()
//! let a = miner.add("Receiving block blk_1 src: /10.0.0.1:50010 size 512");
//! let b = miner.add("Receiving block blk_2 src: /10.0.0.7:50010 size 2048");
//! assert_eq!(a.template_id, b.template_id); // one template, id stable for its lifetime
//! assert!(a.is_new && !b.is_new);
//! // A variable is the whole token (`blk_1` → `<*>`); see [`VariableForm`](crate::VariableForm).
//! assert_eq!(miner.template(a.template_id), Some("Receiving block <*> src: <*> size <*>"));
//!
//! // Persist in the state directory and restore after a restart: same ids, same templates.
//! let bytes = miner.to_bytes();
//! let mut restored = TemplateMiner::from_bytes(MinerConfig::default(), &bytes).unwrap();
//! assert_eq!(restored.add("Receiving block blk_3 src: /10.0.0.9:50010 size 1").template_id, a.template_id);
//!
//! // Header formats in Loghub's syntax split a line into named fields and the message.
//! let format = LogFormat::parse("<Date> <Time> <Level> <Component>: <Content>").unwrap();
//! let fields = format.split("2024-05-01 10:00:00 WARN disk: almost full").unwrap();
//! assert_eq!((fields.level(), fields.content()), (Some("WARN"), "almost full"));
//! ```
//!
//! - [`TemplateMiner::add`]`(&mut self, content: &str) -> `[`Match`]: the message (not the
//!   header) of one line. [`Match`] has `template_id: u64` (ids start at 1, are never reused,
//!   and survive [`to_bytes`](TemplateMiner::to_bytes)/[`from_bytes`](TemplateMiner::from_bytes)),
//!   `is_new` (first line of this template), `template_changed` (a token of the template
//!   became a variable, or a wider one), and `evicted: Option<u64>` (the least recently used
//!   template dropped to make room; forget its counters).
//! - [`TemplateMiner::template`]`(id) -> Option<&str>`, [`TemplateMiner::count`]`(id)`,
//!   [`TemplateMiner::templates`] (all live ones), [`TemplateMiner::len`],
//!   [`TemplateMiner::evictions`].
//! - [`TemplateMiner::to_bytes`] / [`TemplateMiner::from_bytes`]: versioned, checksummed state;
//!   `from_bytes` refuses truncated, corrupt or foreign bytes with a [`StateError`].
//!
//! # Algorithm
//!
//! A line is masked (see [`crate::masking`]) and split into tokens. The prefix tree routes it by
//! token count, then by its first `depth - 2` tokens (a token that is `<*>`, or that would exceed
//! `max_children` children, goes to the `<*>` branch). The leaf holds candidate templates of
//! that length; the line joins the most similar one (similarity = share of positions where the
//! template's literal token equals the line's; ties go to more parameters, then the older
//! template) when the similarity reaches `similarity`, turning the positions that differ into
//! variables (a token that already covers the line's, such as `<*>`, or `rhost=<*>` for
//! `rhost=db1`, stays; `"curl/<*>"` meeting `"kube-probe/<*>"` widens; see `cover`);
//! otherwise it starts a new template. A leaf of many templates (lines that start with a
//! variable, or with the same words) is indexed by token (see `leaf_index`), so that a line is
//! scored against a few candidates instead of every template of the leaf, with the same result;
//! a line whose tokens repeat a line's since the templates last changed takes that line's
//! template from a memo (see `recall`), again with the same result.
//! A template whose literal capitalised word differs
//! from the line's capitalised word at some position is no candidate (see `is_word`): `VM
//! Started` and `VM Paused` are two messages, while values (numbers, ids, addresses, quoted
//! names, lower-case words) merge; so is a template whose token differs from the line's where
//! either is punctuation only (`****` for a missing reading), and one whose lower-case word
//! differs from the line's where the words' form or neighbours show the message's grammar
//! (`spawned` / `destroyed`, `to spawn the` / `to destroy the`, `as bytes` / `as values`; see
//! `differ`), never for names (`for alice` / `for bob`). At most `max_clusters` templates are kept: the
//! least recently matched is evicted, and tree nodes left empty are freed, so memory is bounded
//! whatever the input.
//!
//! One default configuration serves every log kind; see [`MinerConfig`].

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::byte_scan::{below_bang, byte_lanes, is_space_below_bang, token_end, word_at};
use crate::masking::{
    for_each_term_memo, is_device_name, mask_line, mask_shaped, push_variable, MemoSink, Shape,
    Sink, Term, TermSink, PARAM,
};
use crate::variable_form::{collapse, VariableForm};

mod cover;
mod differ;
mod leaf_index;
mod recall;
use cover::{covers, Covered};
use differ::{
    differ, is_symbols, lower_class, words_apart, Differ, Known, CAPITAL, SYMBOLS, TAGS, WORD,
};
use leaf_index::{LeafIndex, Moved, Places};
use recall::Recall;

/// Configuration of a [`TemplateMiner`]. The default is the one global configuration used for
/// every log kind (and measured on Loghub, see the README).
#[derive(Debug, Clone, PartialEq)]
pub struct MinerConfig {
    /// Depth of the prefix tree, counting the root and the token-count level: lines are routed
    /// by their first `depth - 2` tokens. 3..=16.
    pub depth: usize,
    /// Share of equal tokens at or above which a line joins a template, in `(0, 1]`.
    pub similarity: f64,
    /// Children per tree node before new tokens share the `<*>` branch; at least 2.
    pub max_children: usize,
    /// Templates kept; past it the least recently matched is evicted. At least 1.
    pub max_clusters: usize,
    /// Tokens per line considered; the rest of a longer line becomes one `<*>` token. At least 1.
    pub max_tokens: usize,
    /// Whether a variable is the whole token (`blk_<*>` → `<*>`, the default) or only its
    /// varying parts.
    pub variables: VariableForm,
}

impl Default for MinerConfig {
    fn default() -> Self {
        Self {
            depth: 4,
            similarity: 0.78,
            max_children: 100,
            max_clusters: 20_000,
            max_tokens: 256,
            variables: VariableForm::Token,
        }
    }
}

/// A [`MinerConfig`] value out of range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MinerConfigError {
    #[error("depth must be between 3 and 16, got {0}")]
    Depth(usize),
    #[error("similarity must be in (0, 1], got {0}")]
    Similarity(f64),
    #[error("max_children must be at least 2, got {0}")]
    MaxChildren(usize),
    #[error("max_clusters must be at least 1")]
    MaxClusters,
    #[error("max_tokens must be at least 1")]
    MaxTokens,
}

impl MinerConfig {
    pub fn validate(&self) -> Result<(), MinerConfigError> {
        if !(3..=16).contains(&self.depth) {
            return Err(MinerConfigError::Depth(self.depth));
        }
        if !(self.similarity > 0.0 && self.similarity <= 1.0) {
            return Err(MinerConfigError::Similarity(self.similarity));
        }
        if self.max_children < 2 {
            return Err(MinerConfigError::MaxChildren(self.max_children));
        }
        if self.max_clusters == 0 {
            return Err(MinerConfigError::MaxClusters);
        }
        if self.max_tokens == 0 {
            return Err(MinerConfigError::MaxTokens);
        }
        Ok(())
    }
}

/// The outcome of [`TemplateMiner::add`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    /// The line's template; stable for the template's lifetime, never reused.
    pub template_id: u64,
    /// This line started the template.
    pub is_new: bool,
    /// The template's text changed (a token became a variable, or a wider one); false when
    /// `is_new`.
    pub template_changed: bool,
    /// A template evicted (least recently used) to keep within `max_clusters`.
    pub evicted: Option<u64>,
}

/// One live template, from [`TemplateMiner::templates`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateInfo<'a> {
    pub id: u64,
    pub template: &'a str,
    /// Lines matched since the template was created (persisted across restarts).
    pub count: u64,
}

/// Why [`TemplateMiner::from_bytes`] refused its input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StateError {
    #[error("not a seismo template-miner state (bad magic)")]
    Magic,
    #[error("template-miner state version {0} is not supported (expected {STATE_VERSION})")]
    Version(u16),
    #[error("template-miner state is corrupt: checksum mismatch")]
    Checksum,
    #[error("template-miner state is truncated or malformed: {0}")]
    Malformed(&'static str),
    #[error("template-miner state was written with depth {found}, the miner uses {expected}")]
    Depth { found: usize, expected: usize },
    #[error(transparent)]
    Config(#[from] MinerConfigError),
}

const NIL: u32 = u32::MAX;
const STATE_MAGIC: &[u8; 4] = b"SMTM";
const STATE_VERSION: u16 = 1;
/// The largest template id: 2^63 new templates are out of reach, so `next_id` never overflows.
const MAX_ID: u64 = i64::MAX as u64;

/// FxHash (rustc's hasher): fast on short keys. Keys here are bounded in number by
/// `max_children` per node, so hash flooding cannot degrade a node beyond that bound.
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
    }
    fn write_u8(&mut self, b: u8) {
        self.write(&[b]);
    }
    fn write_u32(&mut self, n: u32) {
        self.write(&n.to_le_bytes());
    }
    fn write_u64(&mut self, n: u64) {
        self.write(&n.to_le_bytes());
    }
    fn write_usize(&mut self, n: usize) {
        self.write(&n.to_le_bytes());
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// For keys that are already [`token_hash`]es (well mixed): the key is its own hash.
#[derive(Default, Clone, Copy)]
struct TokenHashHasher(u64);

impl Hasher for TokenHashHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed with it; any other input still hashes consistently.
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

#[derive(Debug)]
struct Cluster {
    id: u64,
    tokens: Vec<Box<str>>,
    /// `token_hash` of each token: unequal tokens are told apart without a string compare.
    hashes: Vec<u64>,
    /// Positions that hold a variable (a `<*>` in the token). A bare `<*>` covers any token;
    /// another (`rhost=<*>`) only those that fit it (see `cover`).
    vars: Vec<bool>,
    template: String,
    count: u64,
    leaf: u32,
    /// Its place in the leaf's `clusters`, so that eviction takes it out in O(1).
    leaf_at: u32,
    /// Its places in the leaf's index (empty while the leaf has none).
    index_at: Places,
}

/// A template slot's LRU neighbours: `prev` was used more recently, `next` less recently.
/// Kept apart from the templates (`TemplateMiner::lru`), so that moving a template to the
/// front, on most lines, touches a few small entries of one array.
#[derive(Debug, Clone, Copy)]
struct Link {
    prev: u32,
    next: u32,
}

const UNLINKED: Link = Link {
    prev: NIL,
    next: NIL,
};

#[derive(Debug)]
enum Parent {
    /// A token-count node under the root.
    Len(u32),
    /// A token node under `node`, reached by `key` (kept for the persisted state).
    Node(u32, Box<str>),
}

#[derive(Debug)]
struct Node {
    parent: Parent,
    /// Keyed by the [`token_hash`] of the token, so that the search reuses the line's hashes.
    children: HashMap<u64, u32, BuildHasherDefault<TokenHashHasher>>,
    /// The templates of a leaf, in no particular order (the search's choice does not depend on
    /// it).
    clusters: Vec<u32>,
    /// Built once the leaf holds [`TemplateMiner::index_from`] templates.
    index: Option<Box<LeafIndex>>,
}

/// The streaming template miner. See the module documentation.
#[derive(Debug)]
pub struct TemplateMiner {
    config: MinerConfig,
    clusters: Vec<Option<Cluster>>,
    free_clusters: Vec<u32>,
    by_id: FxMap<u64, u32>,
    /// Per template slot, its place in the LRU list (as long as `clusters`).
    lru: Vec<Link>,
    lru_head: u32,
    lru_tail: u32,
    nodes: Vec<Option<Node>>,
    free_nodes: Vec<u32>,
    by_len: FxMap<u32, u32>,
    next_id: u64,
    evictions: u64,
    live: usize,
    masked: String,
    spans: Vec<(u32, u32)>,
    line_hashes: Vec<u64>,
    /// Direct-mapped memo of masking and classing for mixed tokens and words:
    /// ([`memo_key`] of the token, 0 for none; the token's hash as matching sees it, masked and
    /// tagged), `MASK_CACHE` slots.
    mask_cache: Box<[(u64, u64); MASK_CACHE]>,
    /// Templates in a leaf from which the leaf is indexed ([`INDEX_FROM`]; tests change it to
    /// compare the indexed search with the scan).
    index_from: usize,
    /// The search's buffers: candidates from a leaf index, and its posting sizes.
    candidates: Vec<u32>,
    sizes: Vec<(usize, usize)>,
    /// Places of templates that an index update moved (see `leaf_index`).
    moved: Vec<Moved>,
    /// [`needed_equal`] for the line lengths below [`NEEDED_TABLE`], worked out once.
    needed: Box<[usize]>,
    /// The search's answers since the templates last changed (see `recall`).
    recall: Recall,
    /// Whether `add` asks `recall` first (tests turn it off to compare with the search).
    use_recall: bool,
    /// Pairs of a template's token and a line's token found covered (see `cover`).
    covered: Covered,
    /// Merges run (tests count them).
    #[cfg(test)]
    merges: usize,
}

/// The bit of a template position in a set of positions: its own below 63, the last one for
/// all the positions from 63 on (a line seldom has so many tokens; they are checked together).
#[inline]
fn open_bit(i: usize) -> usize {
    i.min(63)
}

/// Line lengths whose [`needed_equal`] the miner keeps in a table (longer lines are rare and
/// work it out).
const NEEDED_TABLE: usize = 512;

/// The fewest equal tokens that reach the threshold (`equal / len >= similarity`).
fn needed_equal(similarity: f64, len: usize) -> usize {
    (similarity * len as f64 - 1e-9).ceil().max(0.0) as usize
}

/// Templates in a leaf from which it is indexed: below it, scanning the leaf's templates (each
/// given up at its first few differing tokens) costs less than the index's look-ups per token.
const INDEX_FROM: usize = 32;

/// Slots of [`TemplateMiner`]'s masking memo: room for the recurring mixed tokens and words
/// of a few log kinds (thread names, protocol versions, user agents, levels, event names, the
/// messages' words), 128 KiB. Every token that misses takes a slot, and most misses are fresh
/// values (ids, counters) that never come again: they overwrite recurring tokens at random,
/// the fewer the slots the more often (on the mixed benchmark, 2,048 slots cost 48
/// instructions a line more than 8,192, 4,096 slots 28 more).
const MASK_CACHE: usize = 8192;

/// The masking memo's slot of a [`memo_key`] is its top bits: well mixed by the multiply.
const MEMO_SHIFT: u32 = 64 - MASK_CACHE.trailing_zeros();

/// The bit of a memo key that tells a plain token (see [`TermSink::term`]): the top bit, which
/// the slot's index holds already, so that setting it loses nothing of the key.
const PLAIN: u64 = 1 << 63;

/// The masking memo's key of a token whose [`pre_hash`] is `pre`: a multiply by an odd number,
/// a bijection, so that two tokens share a key only when they share their hash (a short token
/// never), at a multiply where the hash's mixing takes six instructions more; only a miss mixes.
#[inline(always)]
fn memo_key(pre: u64) -> u64 {
    pre.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

impl Default for TemplateMiner {
    fn default() -> Self {
        Self::with_valid_config(MinerConfig::default())
    }
}

impl TemplateMiner {
    pub fn new(config: MinerConfig) -> Result<Self, MinerConfigError> {
        config.validate()?;
        Ok(Self::with_valid_config(config))
    }

    fn with_valid_config(config: MinerConfig) -> Self {
        Self {
            clusters: Vec::new(),
            free_clusters: Vec::new(),
            by_id: FxMap::default(),
            lru: Vec::new(),
            lru_head: NIL,
            lru_tail: NIL,
            nodes: Vec::new(),
            free_nodes: Vec::new(),
            by_len: FxMap::default(),
            next_id: 1,
            evictions: 0,
            live: 0,
            masked: String::new(),
            spans: Vec::new(),
            line_hashes: Vec::new(),
            mask_cache: Box::new([(0, 0); MASK_CACHE]),
            index_from: INDEX_FROM,
            candidates: Vec::new(),
            sizes: Vec::new(),
            moved: Vec::new(),
            needed: (0..NEEDED_TABLE)
                .map(|len| needed_equal(config.similarity, len))
                .collect(),
            recall: Recall::default(),
            use_recall: true,
            covered: Covered::default(),
            #[cfg(test)]
            merges: 0,
            config,
        }
    }

    pub fn config(&self) -> &MinerConfig {
        &self.config
    }

    /// Live templates.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The id the next new template gets (ids are never reused).
    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    /// Templates evicted since this miner was created (not persisted).
    pub fn evictions(&self) -> u64 {
        self.evictions
    }

    pub fn template(&self, id: u64) -> Option<&str> {
        self.cluster_by_id(id).map(|c| c.template.as_str())
    }

    /// Lines matched by the template so far.
    pub fn count(&self, id: u64) -> Option<u64> {
        self.cluster_by_id(id).map(|c| c.count)
    }

    /// All live templates, most recently matched first.
    pub fn templates(&self) -> impl Iterator<Item = TemplateInfo<'_>> + '_ {
        let mut slot = self.lru_head;
        std::iter::from_fn(move || {
            let c = self.cluster(slot)?;
            slot = self.lru[slot as usize].next;
            Some(TemplateInfo {
                id: c.id,
                template: &c.template,
                count: c.count,
            })
        })
    }

    /// Mines one log message: finds or creates its template.
    pub fn add(&mut self, content: &str) -> Match {
        // Search and merge compare tokens by hash only, so a line is first hashed token by token
        // as it is masked, without building its masked text; the text is built only when the
        // line starts a new template.
        let mut hashes = std::mem::take(&mut self.line_hashes);
        hashes.clear();
        // A line of n bytes has at most (n + 1) / 2 tokens: one shorter than twice the limit
        // (nearly every line) cannot reach it, and its tokens are not counted against it.
        let max_tokens = self.config.max_tokens;
        let (form, cache) = (self.config.variables, &mut self.mask_cache);
        if content.len() < 2 * max_tokens {
            let mut line = LineHasher::<false>::new(content, hashes, max_tokens, form, cache);
            for_each_term_memo(content, &mut line);
            hashes = line.hashes;
        } else {
            let mut line = LineHasher::<true>::new(content, hashes, max_tokens, form, cache);
            for_each_term_memo(content, &mut line);
            hashes = line.hashes;
        }
        // A line whose tokens repeat a line's since the templates last changed finds its
        // template at once (see `recall`), and leaves it as it is. The hashes stay set aside
        // (the search and the merge borrow the miner whole) and go back for the next line.
        let key = Recall::key(&hashes);
        if let Some(slot) = self.recall.get(key).filter(|_| self.use_recall) {
            self.line_hashes = hashes;
            return self.matched(slot, false);
        }
        let found = self.search(&hashes);
        if let Some((slot, false)) = found {
            self.recall.put(key, slot);
        }
        let result = match found {
            Some((slot, merge)) => {
                // The line's masked text: a variable keeps the punctuation that the line and
                // the template share around it (see `merge_token`).
                let changed =
                    merge && self.with_masked(content, &hashes, |m, line| m.merge(slot, line));
                self.matched(slot, changed)
            }
            None => {
                let id = self.with_masked(content, &hashes, |m, tokens| {
                    debug_assert!(
                        (0..tokens.len()).all(|i| token_hash(tokens.get(i)) == tokens.hashes[i])
                    );
                    let id = m.next_id;
                    m.next_id += 1;
                    let toks = (0..tokens.len())
                        .map(|i| Box::from(tokens.get(i)))
                        .collect();
                    let leaf = m.insert_path(tokens);
                    m.insert_cluster(id, toks, 1, leaf);
                    id
                });
                let evicted = if self.live > self.config.max_clusters {
                    self.evict_lru()
                } else {
                    None
                };
                Match {
                    template_id: id,
                    is_new: true,
                    template_changed: false,
                    evicted,
                }
            }
        };
        self.line_hashes = hashes;
        result
    }

    /// The line matched the template `slot`: the most recently used now, one line more.
    /// Inlined: on the recall's path it is most of what is left of a line.
    #[inline(always)]
    fn matched(&mut self, slot: u32, changed: bool) -> Match {
        self.touch(slot);
        let c = self.cluster_mut(slot);
        c.count = c.count.saturating_add(1);
        Match {
            template_id: c.id,
            is_new: false,
            template_changed: changed,
            evicted: None,
        }
    }

    /// A saved template token in this miner's [`VariableForm`], appended to `out`: the finer
    /// form's `blk_<*>` is `<*>` in the whole-token form (and stays in the finer one).
    fn token_form(&self, token: &str, out: &mut String) {
        if self.config.variables == VariableForm::Token && token.contains(PARAM) {
            collapse(token, |x| out.push_str(x));
        } else {
            out.push_str(token);
        }
    }

    fn cluster(&self, slot: u32) -> Option<&Cluster> {
        self.clusters.get(slot as usize)?.as_ref()
    }

    fn cluster_by_id(&self, id: u64) -> Option<&Cluster> {
        self.cluster(*self.by_id.get(&id)?)
    }

    /// The slot must be live: only called on slots taken from the tree or the LRU list, which
    /// hold live slots only.
    fn cluster_mut(&mut self, slot: u32) -> &mut Cluster {
        match self.clusters.get_mut(slot as usize) {
            Some(Some(c)) => c,
            _ => unreachable!("dangling cluster slot {slot}"),
        }
    }

    fn node(&self, n: u32) -> &Node {
        match self.nodes.get(n as usize) {
            Some(Some(node)) => node,
            _ => unreachable!("dangling tree node {n}"),
        }
    }

    fn node_mut(&mut self, n: u32) -> &mut Node {
        match self.nodes.get_mut(n as usize) {
            Some(Some(node)) => node,
            _ => unreachable!("dangling tree node {n}"),
        }
    }

    fn token_levels(&self, len: usize) -> usize {
        (self.config.depth - 2).min(len)
    }

    /// The best matching template's slot, if one is similar enough, and whether merging the
    /// line into it can change it.
    fn search(&mut self, hashes: &[u64]) -> Option<(u32, bool)> {
        let len = hashes.len();
        let mut node = *self.by_len.get(&(len as u32))?;
        for hash in &hashes[..self.token_levels(len)] {
            let children = &self.node(node).children;
            node = *children.get(hash).or_else(|| children.get(&param_hash()))?;
        }
        // Fewest equal tokens that reach the threshold (`sim >= similarity`).
        let needed = match self.needed.get(len) {
            Some(&n) => n,
            None => needed_equal(self.config.similarity, len),
        };
        let mut candidates = std::mem::take(&mut self.candidates);
        let mut sizes = std::mem::take(&mut self.sizes);
        candidates.clear();
        let leaf = self.node(node);
        let indexed = leaf.index.as_ref().is_some_and(|index| {
            index.candidates(
                hashes,
                needed,
                leaf.clusters.len(),
                &mut sizes,
                &mut candidates,
            )
        });
        let scan = if indexed { &candidates } else { &leaf.clusters };
        let best = self.best_of(scan, hashes, needed);
        self.candidates = candidates;
        self.sizes = sizes;
        let (slot, equal, params, open) = best?;
        let sim = if len == 0 {
            1.0
        } else {
            equal as f64 / len as f64
        };
        if sim < self.config.similarity {
            return None;
        }
        // Merging changes nothing where every position that differs is a bare `<*>`, or a
        // variable that covers the line's token (see `cover`); a literal that differs always
        // changes. A pair of tokens not known to be covered is merged, which looks at their
        // text and remembers the pair if it is.
        let merge = equal + params < len || (open != 0 && !self.covered_at(slot, hashes, open));
        Some((slot, merge))
    }

    /// Whether the template `slot` is known to cover the line's tokens at the positions `open`
    /// (see [`open_bit`]).
    fn covered_at(&self, slot: u32, hashes: &[u64], mut open: u64) -> bool {
        let Some(c) = self.cluster(slot) else {
            return false;
        };
        while open != 0 {
            let i = open.trailing_zeros() as usize;
            open &= open - 1;
            let (from, to) = if i == 63 {
                (63, hashes.len())
            } else {
                (i, i + 1)
            };
            let mut pairs = c.hashes[from..to].iter().zip(&hashes[from..to]);
            if !pairs.all(|(&h, &lh)| h == lh || h == PARAM_HASH || self.covered.get(h, lh)) {
                return false;
            }
        }
        true
    }

    /// The best of the templates `slots` for a line (most equal tokens, then most parameters,
    /// then the older: a total order, so the order of `slots` does not matter, nor a slot given
    /// twice) with its equal tokens, its parameters where the line differs, and the positions
    /// of those that are no bare `<*>` (see [`open_bit`]); only a template with `needed` equal
    /// tokens or more is taken.
    fn best_of(
        &self,
        slots: &[u32],
        hashes: &[u64],
        needed: usize,
    ) -> Option<(u32, usize, usize, u64)> {
        let len = hashes.len();
        // slot, equal, params, open, id
        let mut best: Option<(u32, usize, usize, u64, u64)> = None;
        'candidates: for &slot in slots {
            let Some(c) = self.cluster(slot) else {
                continue;
            };
            let floor = best.map_or(needed, |(_, be, ..)| be.max(needed));
            let (mut equal, mut params, mut open) = (0, 0, 0);
            for (i, (&h, &lh)) in c.hashes.iter().zip(hashes).enumerate() {
                // Tokens are compared by their 64-bit hashes (see `token_hash`). A variable the
                // line's masking found, under a template parameter, matches.
                if h == lh {
                    equal += 1;
                } else if match differ(h, lh) {
                    Differ::Value => false,
                    Differ::Apart => true,
                    Differ::Words => words_apart(&c.hashes, i, h, lh, &KNOWN),
                } {
                    // Another message: two capitalised words, punctuation, lower-case words
                    // that are verbs or units (see `differ`).
                    continue 'candidates;
                } else {
                    let var = c.vars[i];
                    params += usize::from(var);
                    open |= u64::from(var & (h != PARAM_HASH)) << open_bit(i);
                    // Stop when even all the remaining tokens could not reach the best so far.
                    if equal + (len - i - 1) < floor {
                        continue 'candidates;
                    }
                }
            }
            let better = match best {
                None => true,
                Some((_, be, bp, _, bid)) => {
                    (equal, params, std::cmp::Reverse(c.id)) > (be, bp, std::cmp::Reverse(bid))
                }
            };
            if better {
                best = Some((slot, equal, params, open, c.id));
            }
        }
        best.map(|(slot, equal, params, open, _)| (slot, equal, params, open))
    }

    /// Runs `f` with the line's masked tokens, in the miner's reused buffers (masked only when
    /// a template is created or merged, not for every line).
    fn with_masked<R>(
        &mut self,
        content: &str,
        hashes: &[u64],
        f: impl FnOnce(&mut Self, &Tokens<'_>) -> R,
    ) -> R {
        let mut spans = std::mem::take(&mut self.spans);
        let mut masked = std::mem::take(&mut self.masked);
        mask_line(
            content,
            self.config.max_tokens,
            self.config.variables,
            &mut masked,
            &mut spans,
        );
        let tokens = Tokens {
            text: &masked,
            spans: &spans,
            hashes,
        };
        let r = f(self, &tokens);
        self.spans = spans;
        self.masked = masked;
        r
    }

    /// Changes each token of the template `slot` that does not cover the line's token into
    /// the variable both fit (see `merge_token`), so that the template stays true of every line
    /// it holds; remembers the pairs found covered.
    fn merge(&mut self, slot: u32, line: &Tokens<'_>) -> bool {
        #[cfg(test)]
        {
            self.merges += 1;
        }
        let whole = self.config.variables == VariableForm::Token;
        let Some(Some(c)) = self.clusters.get_mut(slot as usize) else {
            unreachable!("dangling cluster slot {slot}")
        };
        let mut index = match self.nodes.get_mut(c.leaf as usize) {
            Some(Some(leaf)) => leaf.index.as_deref_mut(),
            _ => unreachable!("dangling tree node {}", c.leaf),
        };
        let mut moved = std::mem::take(&mut self.moved);
        let mut changed = false;
        for i in 0..c.tokens.len() {
            let (h, lh) = (c.hashes[i], line.hashes[i]);
            if h == lh || h == PARAM_HASH {
                continue;
            }
            if c.vars[i] && covers(&c.tokens[i], line.get(i)) {
                self.covered.put(h, lh);
                continue;
            }
            let mut t = merge_token(&c.tokens[i], line.get(i));
            if whole {
                // `'<*>'` → `<*>`, as masking gives a whole token (see `collapse`).
                let mut w = String::new();
                collapse(&t, |x| w.push_str(x));
                t = w.into_boxed_str();
            }
            // The merged token covers both (its constant parts are both tokens' own), so
            // it differs from the template's, which did not cover the line's.
            if *t != *c.tokens[i] {
                let h = token_hash(&t);
                if let Some(index) = index.as_mut() {
                    index.replace(slot, i, (c.hashes[i], h), &mut c.index_at, &mut moved);
                }
                c.vars[i] = true;
                c.hashes[i] = h;
                c.tokens[i] = t;
                changed = true;
            }
        }
        if changed {
            c.template = c.tokens.join(" ");
            // Variables changed: the search may answer otherwise.
            self.recall.forget(self.live);
        }
        self.apply_moved(&mut moved);
        self.moved = moved;
        changed
    }

    /// Writes the places that an index update moved into their templates (and empties `moved`).
    fn apply_moved(&mut self, moved: &mut Vec<Moved>) {
        for (slot, k, place) in moved.drain(..) {
            if let Some(Some(c)) = self.clusters.get_mut(slot as usize) {
                if let Some(p) = c.index_at.get_mut(k as usize) {
                    *p = place;
                }
            }
        }
    }

    fn new_node(&mut self, parent: Parent) -> u32 {
        let node = Node {
            parent,
            children: HashMap::default(),
            clusters: Vec::new(),
            index: None,
        };
        match self.free_nodes.pop() {
            Some(n) => {
                self.nodes[n as usize] = Some(node);
                n
            }
            None => {
                self.nodes.push(Some(node));
                (self.nodes.len() - 1) as u32
            }
        }
    }

    fn len_node(&mut self, len: u32) -> u32 {
        match self.by_len.get(&len) {
            Some(&n) => n,
            None => {
                let n = self.new_node(Parent::Len(len));
                self.by_len.insert(len, n);
                n
            }
        }
    }

    fn child(&mut self, node: u32, key: &str, hash: u64) -> u32 {
        if let Some(&c) = self.node(node).children.get(&hash) {
            return c;
        }
        let c = self.new_node(Parent::Node(node, Box::from(key)));
        self.node_mut(node).children.insert(hash, c);
        c
    }

    /// Drain's placement of a new template: the leaf node for its first tokens.
    fn insert_path(&mut self, tokens: &Tokens<'_>) -> u32 {
        let len = tokens.len();
        let mut node = self.len_node(len as u32);
        let param = param_hash();
        for i in 0..self.token_levels(len) {
            let (tok, hash) = (tokens.get(i), tokens.hashes[i]);
            let children = &self.node(node).children;
            node = if let Some(&c) = children.get(&hash) {
                c
            } else if hash == param {
                self.child(node, PARAM, param)
            } else {
                let n = children.len();
                let has_param = children.contains_key(&param);
                if (has_param && n < self.config.max_children)
                    || (!has_param && n + 1 < self.config.max_children)
                {
                    self.child(node, tok, hash)
                } else {
                    self.child(node, PARAM, param)
                }
            };
        }
        node
    }

    fn insert_cluster(&mut self, id: u64, tokens: Vec<Box<str>>, count: u64, leaf: u32) -> u32 {
        let cluster = Cluster {
            id,
            template: tokens.join(" "),
            hashes: tokens.iter().map(|t| token_hash(t)).collect(),
            vars: tokens.iter().map(|t| t.contains(PARAM)).collect(),
            tokens,
            count,
            leaf,
            leaf_at: 0,
            index_at: Places::default(),
        };
        let slot = match self.free_clusters.pop() {
            Some(s) => {
                self.clusters[s as usize] = Some(cluster);
                s
            }
            None => {
                self.clusters.push(Some(cluster));
                self.lru.push(UNLINKED);
                (self.clusters.len() - 1) as u32
            }
        };
        self.add_to_leaf(leaf, slot);
        self.by_id.insert(id, slot);
        self.push_front(slot);
        self.live += 1;
        self.recall.forget(self.live);
        slot
    }

    fn unlink(&mut self, slot: u32) {
        let Link { prev, next } = std::mem::replace(&mut self.lru[slot as usize], UNLINKED);
        if prev == NIL {
            self.lru_head = next;
        } else {
            self.lru[prev as usize].next = next;
        }
        if next == NIL {
            self.lru_tail = prev;
        } else {
            self.lru[next as usize].prev = prev;
        }
    }

    fn push_front(&mut self, slot: u32) {
        let head = self.lru_head;
        self.lru[slot as usize] = Link {
            prev: NIL,
            next: head,
        };
        if head == NIL {
            self.lru_tail = slot;
        } else {
            self.lru[head as usize].prev = slot;
        }
        self.lru_head = slot;
    }

    /// [`unlink`](Self::unlink) and [`push_front`](Self::push_front) in one, for a live slot:
    /// one that is not the head has a template before it, and the list has a head. Inlined:
    /// it runs for every line.
    #[inline(always)]
    fn touch(&mut self, slot: u32) {
        let head = self.lru_head;
        if head == slot {
            return;
        }
        let Link { prev, next } = self.lru[slot as usize];
        self.lru[prev as usize].next = next;
        if next == NIL {
            self.lru_tail = prev;
        } else {
            self.lru[next as usize].prev = prev;
        }
        self.lru[slot as usize] = Link {
            prev: NIL,
            next: head,
        };
        self.lru[head as usize].prev = slot;
        self.lru_head = slot;
    }

    /// Places the template `slot` in the leaf's list (and index, building it when the leaf
    /// reaches `index_from` templates).
    fn add_to_leaf(&mut self, leaf: u32, slot: u32) {
        let Some(Some(node)) = self.nodes.get_mut(leaf as usize) else {
            unreachable!("dangling tree node {leaf}")
        };
        let Some(Some(c)) = self.clusters.get_mut(slot as usize) else {
            unreachable!("dangling cluster slot {slot}")
        };
        c.leaf_at = node.clusters.len() as u32;
        node.clusters.push(slot);
        match node.index.as_mut() {
            Some(index) => c.index_at = index.insert(slot, &c.hashes),
            None if node.clusters.len() >= self.index_from => {
                let mut index = LeafIndex::new(c.hashes.len());
                for &s in &node.clusters {
                    if let Some(Some(c)) = self.clusters.get_mut(s as usize) {
                        c.index_at = index.insert(s, &c.hashes);
                    }
                }
                node.index = Some(Box::new(index));
            }
            None => {}
        }
    }

    /// Takes the evicted template out of its leaf's list and index, in O(1): the leaf's last
    /// template takes its place in the list.
    fn remove_from_leaf(&mut self, cluster: &Cluster, slot: u32) {
        let node = match self.nodes.get_mut(cluster.leaf as usize) {
            Some(Some(node)) => node,
            _ => unreachable!("dangling tree node {}", cluster.leaf),
        };
        let at = cluster.leaf_at as usize;
        debug_assert_eq!(node.clusters.get(at), Some(&slot));
        node.clusters.swap_remove(at);
        if let Some(&moved) = node.clusters.get(at) {
            if let Some(Some(c)) = self.clusters.get_mut(moved as usize) {
                c.leaf_at = at as u32;
            }
        }
        if let Some(index) = node.index.as_mut() {
            let mut moved = std::mem::take(&mut self.moved);
            index.remove(&cluster.hashes, &cluster.index_at, &mut moved);
            self.apply_moved(&mut moved);
            self.moved = moved;
        }
    }

    /// Drops the least recently used template and any tree nodes it leaves empty.
    fn evict_lru(&mut self) -> Option<u64> {
        let slot = self.lru_tail;
        if slot == NIL {
            return None;
        }
        self.unlink(slot);
        let cluster = self.clusters[slot as usize].take()?;
        self.free_clusters.push(slot);
        self.by_id.remove(&cluster.id);
        self.live -= 1;
        self.evictions += 1;
        self.recall.forget(self.live);
        let mut node = cluster.leaf;
        self.remove_from_leaf(&cluster, slot);
        loop {
            let n = self.node(node);
            if !n.clusters.is_empty() || !n.children.is_empty() {
                break;
            }
            let Some(Node { parent, .. }) = self.nodes[node as usize].take() else {
                break;
            };
            self.free_nodes.push(node);
            match parent {
                Parent::Len(len) => {
                    self.by_len.remove(&len);
                    break;
                }
                Parent::Node(p, key) => {
                    self.node_mut(p).children.remove(&token_hash(&key));
                    node = p;
                }
            }
        }
        Some(cluster.id)
    }

    /// The keys from the token-count node down to a leaf.
    fn path_keys(&self, leaf: u32) -> (u32, Vec<&str>) {
        let mut keys = Vec::new();
        let mut node = leaf;
        loop {
            match &self.node(node).parent {
                Parent::Len(len) => {
                    keys.reverse();
                    return (*len, keys);
                }
                Parent::Node(p, key) => {
                    keys.push(&**key);
                    node = *p;
                }
            }
        }
    }

    /// A miner holding `templates` — `(id, count, text)`, the text as [`TemplateInfo`] gives
    /// it, least recently used first — that numbers new templates from `next_id`. Each template
    /// is placed in the tree as a new one with its text would be, so a saved template list
    /// outlives changes to the tree (see the agent's `logs/templates.rs`).
    pub fn with_templates<'t>(
        config: MinerConfig,
        next_id: u64,
        templates: impl IntoIterator<Item = (u64, u64, &'t str)>,
    ) -> Result<Self, StateError> {
        config.validate()?;
        if next_id == 0 || next_id > MAX_ID {
            return Err(StateError::Malformed("next template id out of range"));
        }
        let mut miner = Self::with_valid_config(config);
        miner.next_id = next_id;
        let mut normal = String::new();
        for (id, count, text) in templates {
            // A template saved in the finer form (an earlier version, or the other setting)
            // takes this miner's form, so that its lines keep finding it under its id.
            let text = if text.contains(PARAM) {
                normal.clear();
                for (i, t) in text.split(' ').enumerate() {
                    if i > 0 {
                        normal.push(' ');
                    }
                    miner.token_form(t, &mut normal);
                }
                normal.as_str()
            } else {
                text
            };
            if id == 0 || id >= next_id || miner.by_id.contains_key(&id) {
                return Err(StateError::Malformed(
                    "template id out of range or repeated",
                ));
            }
            let mut spans = Vec::new();
            let mut at = 0u32;
            for t in text.split(' ').filter(|_| !text.is_empty()) {
                let end = at + t.len() as u32;
                spans.push((at, end));
                at = end + 1;
            }
            let hashes: Vec<u64> = text
                .split(' ')
                .filter(|_| !text.is_empty())
                .map(token_hash)
                .collect();
            let tokens = Tokens {
                text,
                spans: &spans,
                hashes: &hashes,
            };
            let leaf = miner.insert_path(&tokens);
            let toks = (0..tokens.len())
                .map(|i| Box::from(tokens.get(i)))
                .collect();
            miner.insert_cluster(id, toks, count, leaf);
            while miner.live > miner.config.max_clusters {
                miner.evict_lru();
            }
        }
        miner.evictions = 0;
        Ok(miner)
    }

    /// The miner's state: templates with their ids, counts, tree positions and recency, and
    /// the next id. Layout: magic `SMTM`, version (u16 LE), payload, FNV-1a 64 of all the
    /// preceding bytes (u64 LE). Integers are little-endian; strings are u32 length + UTF-8.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Vec::new();
        w.extend_from_slice(STATE_MAGIC);
        w.extend_from_slice(&STATE_VERSION.to_le_bytes());
        put_u32(&mut w, self.config.depth as u32);
        w.extend_from_slice(&self.next_id.to_le_bytes());
        put_u32(&mut w, self.live as u32);
        // Least recent first, so that importing in order rebuilds the same recency.
        let mut slot = self.lru_tail;
        while let Some(c) = self.cluster(slot) {
            w.extend_from_slice(&c.id.to_le_bytes());
            w.extend_from_slice(&c.count.to_le_bytes());
            let (len, keys) = self.path_keys(c.leaf);
            put_u32(&mut w, len);
            put_u32(&mut w, keys.len() as u32);
            for k in keys {
                put_str(&mut w, k);
            }
            put_u32(&mut w, c.tokens.len() as u32);
            for t in &c.tokens {
                put_str(&mut w, t);
            }
            slot = self.lru[slot as usize].prev;
        }
        let sum = fnv1a(&w);
        w.extend_from_slice(&sum.to_le_bytes());
        w
    }

    /// Restores a miner from [`to_bytes`](Self::to_bytes). `config.depth` must match the
    /// state's; other settings may change (a smaller `max_clusters` evicts the least recent).
    pub fn from_bytes(config: MinerConfig, bytes: &[u8]) -> Result<Self, StateError> {
        config.validate()?;
        if bytes.len() < 4 || &bytes[..4] != STATE_MAGIC {
            return Err(StateError::Magic);
        }
        if bytes.len() < 6 + 8 {
            return Err(StateError::Malformed("shorter than its header"));
        }
        let version = u16::from_le_bytes([bytes[4], bytes[5]]);
        if version != STATE_VERSION {
            return Err(StateError::Version(version));
        }
        let (body, sum) = bytes.split_at(bytes.len() - 8);
        let mut s = [0u8; 8];
        s.copy_from_slice(sum);
        if fnv1a(body) != u64::from_le_bytes(s) {
            return Err(StateError::Checksum);
        }
        let mut r = Reader { b: &body[6..] };
        let depth = r.u32()? as usize;
        if depth != config.depth {
            return Err(StateError::Depth {
                found: depth,
                expected: config.depth,
            });
        }
        let mut miner = Self::with_valid_config(config);
        miner.next_id = r.u64()?;
        // Ids are handed out one by one from 1: a next id past MAX_ID is corrupt, and would
        // overflow (and so reuse ids) after a few new templates.
        if miner.next_id == 0 || miner.next_id > MAX_ID {
            return Err(StateError::Malformed("next template id out of range"));
        }
        let n = r.u32()?;
        let levels = depth - 2;
        for _ in 0..n {
            let id = r.u64()?;
            let count = r.u64()?;
            let len = r.u32()?;
            let nkeys = r.u32()? as usize;
            if nkeys != levels.min(len as usize) {
                return Err(StateError::Malformed("tree path of the wrong depth"));
            }
            let mut node = miner.len_node(len);
            let mut key_form = String::new();
            for _ in 0..nkeys {
                key_form.clear();
                miner.token_form(r.str()?, &mut key_form);
                node = miner.child(node, &key_form, token_hash(&key_form));
            }
            let ntok = r.u32()?;
            if ntok != len {
                return Err(StateError::Malformed(
                    "template length differs from its path",
                ));
            }
            let mut tokens = Vec::with_capacity(ntok.min(4096) as usize);
            for _ in 0..ntok {
                let mut t = String::new();
                miner.token_form(r.str()?, &mut t);
                tokens.push(t.into_boxed_str());
            }
            if id == 0 || id >= miner.next_id || miner.by_id.contains_key(&id) {
                return Err(StateError::Malformed(
                    "template id out of range or repeated",
                ));
            }
            miner.insert_cluster(id, tokens, count, node);
            while miner.live > miner.config.max_clusters {
                miner.evict_lru();
            }
        }
        if !r.b.is_empty() {
            return Err(StateError::Malformed("trailing bytes"));
        }
        miner.evictions = 0;
        Ok(miner)
    }
}

/// The masked tokens of one line, with their hashes.
struct Tokens<'a> {
    text: &'a str,
    spans: &'a [(u32, u32)],
    hashes: &'a [u64],
}

/// A line's token hashes, as [`TemplateMiner::add`] takes them from masking, with the memo of
/// recurring tokens. `BOUNDED`: the line may have more than `max_tokens` terms (see `add`).
struct LineHasher<'a, const BOUNDED: bool> {
    content: &'a str,
    hashes: Vec<u64>,
    hasher: TokenHasher,
    max_tokens: usize,
    form: VariableForm,
    /// [`TemplateMiner`]'s masking memo: a token's [`memo_key`] (with [`PLAIN`] set if the
    /// token is plain, see [`TermSink::term`]) and its hash.
    cache: &'a mut [(u64, u64); MASK_CACHE],
    /// The last token `known` missed, `(start, pre_hash)`: `term` takes its hash from here
    /// instead of hashing it again (a token is told by its start).
    missed: (usize, u64),
}

impl<'a, const BOUNDED: bool> LineHasher<'a, BOUNDED> {
    fn new(
        content: &'a str,
        hashes: Vec<u64>,
        max_tokens: usize,
        form: VariableForm,
        cache: &'a mut [(u64, u64); MASK_CACHE],
    ) -> Self {
        Self {
            content,
            hashes,
            hasher: TokenHasher::default(),
            max_tokens,
            form,
            cache,
            missed: (usize::MAX, 0),
        }
    }

    fn slot(&mut self, key: u64) -> &mut (u64, u64) {
        &mut self.cache[(key >> MEMO_SHIFT) as usize]
    }

    /// Whether the line has as many terms as the miner keeps (never, unless `BOUNDED`).
    #[inline(always)]
    fn full(&self) -> bool {
        BOUNDED && self.hashes.len() >= self.max_tokens
    }
}

impl<const BOUNDED: bool> TermSink for LineHasher<'_, BOUNDED> {
    /// A token remembered as plain is taken by the hash of its bytes alone, which finding its
    /// end has just read.
    #[inline(always)]
    fn known(&mut self, s: usize) -> Option<usize> {
        if self.full() {
            return None;
        }
        let (e, pre) = token_end_hash(self.content.as_bytes(), s);
        let key = memo_key(pre);
        let slot = *self.slot(key);
        if slot.0 == key | PLAIN {
            self.hashes.push(slot.1);
            return Some(e);
        }
        self.missed = (s, pre);
        None
    }

    #[inline(always)]
    fn term(&mut self, s: usize, e: usize, term: Term, plain: bool) -> bool {
        let content = self.content;
        if self.full() {
            self.hashes.push(param_hash()); // the rest of the line, as one `<*>`
            return false;
        }
        let shape = match term {
            Term::Token(shape) => shape,
            // A whole token that is a variable (a number): `<*>`, whose hash is known.
            Term::Variable { open, close } if open == s && close == e => {
                self.hashes.push(param_hash());
                return true;
            }
            // A variable over several tokens (a date): its text, hashed; most keep a bracket or
            // a quote at most on each side (`[<*>]`, `<*>"`), packed in one word at once.
            Term::Variable { open, close } => {
                let bytes = content.as_bytes();
                let h = match short_variable(bytes, (s, open), (close, e), self.form) {
                    Some(h) => h,
                    None => {
                        let hasher = &mut self.hasher;
                        push_variable(&content[s..open], &content[close..e], self.form, hasher);
                        hasher.finish()
                    }
                };
                self.hashes.push(h);
                return true;
            }
        };
        // Digits alone (a count, a port, a status code): `<*>`, whose hash is known.
        if shape.is_digits() {
            self.hashes.push(param_hash());
            return true;
        }
        let token = &content[s..e];
        let bytes = content.as_bytes();
        // Masking and the class (see `word_tag`) are functions of the token alone: a
        // recurring token, a mixed token or a word, is looked up by the key of its bytes'
        // hash (see `memo_key`: equal hashes are equal tokens, as in matching; see
        // `token_hash`), which a word's hash needs anyway: a hit spares its value-word test
        // and its class. Numbers
        // are settled at once (they seldom recur).
        let memo = if shape.is_mixed() || shape.is_letters() {
            let pre = match self.missed {
                (start, pre) if start == s => pre,
                _ => pre_hash_in(bytes, s, e),
            };
            let key = memo_key(pre);
            let slot = *self.slot(key);
            // An empty slot's 0 matches no key but 0 and `PLAIN` (which a short token never is).
            if key & !PLAIN != 0 && slot.0 | PLAIN == key | PLAIN {
                self.hashes.push(slot.1);
                return true;
            }
            Some((key, mix(pre)))
        } else {
            None
        };
        let h = if mask_shaped(token, shape, self.form, &mut self.hasher) {
            self.hasher.finish()
        } else {
            match memo {
                Some((_, raw)) => tag_shaped(raw, token.as_bytes(), shape),
                None => token_hash_in(bytes, s, e, shape),
            }
        };
        if let Some((key, _)) = memo {
            // The slot is the key's as looked up: every key in it has the same top bit.
            let flagged = if plain { key | PLAIN } else { key & !PLAIN };
            *self.slot(key) = (flagged, h);
        }
        self.hashes.push(h);
        true
    }
}

impl<const BOUNDED: bool> MemoSink for LineHasher<'_, BOUNDED> {
    fn taken(&self) -> usize {
        self.hashes.len()
    }

    fn last_is_variable(&mut self) {
        if let Some(h) = self.hashes.last_mut() {
            *h = param_hash();
        }
    }
}

/// Token identity for matching, 64 bits. Two different tokens with the same hash would count as
/// equal; for tokens of a log line that is vanishingly rare (about 2^-64 per comparison) and its
/// effect is one line joining a near-identical template.
///
/// Most masked tokens are shorter than 8 bytes: those are packed with their length into one word
/// (distinct tokens give distinct words) and mixed by splitmix64's finaliser, a bijection, so
/// they never collide, with two multiplies in all. Longer tokens go through FxHash first.
fn token_hash(t: &str) -> u64 {
    token_hash_bytes(t.as_bytes())
}

fn token_hash_bytes(b: &[u8]) -> u64 {
    word_tag(untagged_hash(b), b)
}

/// [`token_hash`] before its class is set in the low bits (see [`word_tag`]).
fn untagged_hash(b: &[u8]) -> u64 {
    mix(pre_hash(b))
}

/// [`untagged_hash`] before its last mixing (a bijection): what the masking memo's key is
/// made from (see [`memo_key`]).
fn pre_hash(b: &[u8]) -> u64 {
    if b.len() < 8 {
        return packed_le(b) | ((b.len() as u64) << 56); // "a" and "a\0" differ
    }
    let mut chunks = b.chunks_exact(8);
    let mut state = 0;
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        state = fx_step(state, u64::from_le_bytes(w));
    }
    let rest = chunks.remainder();
    let last = rest
        .iter()
        .rev()
        .fold(0u64, |w, &c| (w << 8) | u64::from(c));
    long_pre(state, last, !rest.is_empty(), b.len())
}

/// The low bits of a token's hash tell its class: a capitalised word (see [`is_word`]) or a
/// device name (see [`is_device_name`]), a lower-case word (see `differ`), or punctuation only (see `differ`), so that matching can tell two different messages apart from
/// a value without the text. The first byte picks the one test that can pass; most tokens fail
/// it at once.
fn word_tag(h: u64, b: &[u8]) -> u64 {
    let tag = match b.first() {
        Some(c) if c.is_ascii_lowercase() => match lower_class(b, false) {
            0 if is_device_name(b) => CAPITAL,
            class => class,
        },
        Some(c) if c.is_ascii_uppercase() => CAPITAL * u64::from(is_word(b)),
        Some(c) if c.is_ascii_punctuation() => SYMBOLS * u64::from(is_symbols(b)),
        _ => 0,
    };
    (h & !TAGS) | tag
}

/// A word of the message's text: letters only, apart from trailing punctuation (`Started`,
/// `destroy`, `WindowsUpdateAgent.`). Two different capitalised words at one position are two
/// messages, not one message with a variable: capitalised words inside a message name events,
/// states and components (`VM Started` / `VM Paused` in a hypervisor's log, `link Up` / `link
/// Down` in a switch's, `client SPP.` / `client WindowsUpdateAgent.` in an installer's), while
/// lower-case words that vary are as often values (`for user root` / `for user news` in an
/// authentication log), so they merge like numbers and ids. Not words: quoted or bracketed
/// tokens (`'sparkDriver'`, `[LNKG]`, `(root)`: names shown as values) and units of measure
/// (`12 KB`, `3 ms`), which vary with the number before them.
fn is_word(b: &[u8]) -> bool {
    let mut e = b.len();
    while e > 0 && matches!(b[e - 1], b'.' | b',' | b';' | b':' | b'!' | b'?') {
        e -= 1;
    }
    let w = &b[..e];
    !w.is_empty() && w.iter().all(u8::is_ascii_alphabetic) && !is_unit(w)
}

/// Units of size, time and rate that follow a number (`512 B`, `1.5 KB`, `30 sec`).
fn is_unit(w: &[u8]) -> bool {
    const UNITS: [&[u8]; 24] = [
        b"B", b"KB", b"MB", b"GB", b"TB", b"kB", b"KiB", b"MiB", b"GiB", b"TiB", b"bytes", b"ns",
        b"us", b"ms", b"s", b"sec", b"secs", b"seconds", b"min", b"mins", b"minutes", b"h",
        b"hours", b"days",
    ];
    UNITS.contains(&w)
}

/// FxHash's step: eight bytes (little-endian) into the state.
fn fx_step(state: u64, word: u64) -> u64 {
    const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
    (state.rotate_left(5) ^ word).wrapping_mul(K)
}

/// The end of [`token_hash`] for 8 bytes or more: the last partial word (if any), then the
/// length, mixed.
fn long_finish(state: u64, last: u64, partial: bool, len: usize) -> u64 {
    mix(long_pre(state, last, partial, len))
}

/// [`long_finish`] before its last mixing (see [`pre_hash`]).
#[inline(always)]
fn long_pre(mut state: u64, last: u64, partial: bool, len: usize) -> u64 {
    if partial {
        state = fx_step(state, last);
    }
    fx_step(state, len as u64)
}

/// [`token_hash`] of text pushed in pieces: the masked token as masking writes it, never built
/// as a string. Gives the same hash as `token_hash` of the concatenation (a test checks it).
#[derive(Default)]
struct TokenHasher {
    state: u64,
    /// The bytes since the last full word, the first in the low byte.
    word: u64,
    len: usize,
}

impl Sink for TokenHasher {
    fn push(&mut self, s: &str) {
        // A word at a time: the partial word topped up, whole words, the rest kept. `word` is 0
        // whenever `len` is a multiple of 8.
        let mut b = s.as_bytes();
        if b.is_empty() {
            return;
        }
        let fill = self.len % 8;
        self.len += b.len();
        if fill != 0 {
            let take = (8 - fill).min(b.len());
            self.word |= packed_le(&b[..take]) << (8 * fill);
            if fill + take < 8 {
                return;
            }
            self.state = fx_step(self.state, self.word);
            self.word = 0;
            b = &b[take..];
        }
        let mut chunks = b.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.state = fx_step(self.state, u64::from_le_bytes(w));
        }
        self.word = packed_le(chunks.remainder());
    }

    fn push_param(&mut self) {
        // `<*>` as one little-endian word, shifted in whole or split over two words.
        debug_assert!(PARAM.as_bytes() == &PARAM_WORD.to_le_bytes()[..3]);
        let fill = self.len % 8;
        self.word |= PARAM_WORD << (8 * fill);
        self.len += 3;
        if fill >= 5 {
            self.state = fx_step(self.state, self.word);
            self.word = if fill == 5 {
                0
            } else {
                PARAM_WORD >> (8 * (8 - fill))
            };
        }
    }
}

impl TokenHasher {
    /// The hash of the text pushed since the last `finish`, and a reset.
    fn finish(&mut self) -> u64 {
        // Masked text holds `<*>`: no class (see `word_tag`).
        let h = if self.len < 8 {
            mix(self.word | ((self.len as u64) << 56))
        } else {
            long_finish(self.state, self.word, !self.len.is_multiple_of(8), self.len)
        } & !TAGS;
        *self = Self::default();
        h
    }
}

/// `<*>` as a little-endian word.
const PARAM_WORD: u64 = 0x3e_2a_3c;

/// The hash of a variable's masked text, `b[s..open]`, `<*>`, `b[close..e]`, when what it keeps
/// around the `<*>` is four bytes at most (an access log's date, `[<*>]`, and request target,
/// `<*>"`): as [`push_variable`] and [`TokenHasher::finish`] give it, the text packed in one
/// word with its length. `None` when more is kept, or, in the whole-token form, when
/// [`collapse`]'s rules apply: `<`, `>` or a backquote kept, or a lone pair of quotes.
#[inline(always)]
fn short_variable(
    b: &[u8],
    (s, open): (usize, usize),
    (close, e): (usize, usize),
    form: VariableForm,
) -> Option<u64> {
    let (p, q) = (open - s, e - close);
    if p + q > 4 {
        return None;
    }
    let (prefix, suffix) = (packed_at(b, s, p), packed_at(b, close, q));
    if form == VariableForm::Token {
        let kept = prefix | (suffix << 32);
        let odd = byte_lanes(kept, b'<') | byte_lanes(kept, b'>') | byte_lanes(kept, b'`');
        let quoted = p == 1 && q == 1 && prefix == suffix && matches!(prefix as u8, b'"' | b'\'');
        if odd != 0 || quoted {
            return None;
        }
    }
    let word = prefix | (PARAM_WORD << (8 * p)) | (suffix << (8 * (p + 3)));
    Some(mix(word | (((p + q + 3) as u64) << 56)) & !TAGS)
}

/// The `n` bytes of `b` from `at` (at most 7) as a little-endian word, the high bytes 0: read
/// as one word of the buffer around them where it has eight bytes.
#[inline(always)]
fn packed_at(b: &[u8], at: usize, n: usize) -> u64 {
    if n == 0 {
        0
    } else if at + 8 <= b.len() {
        word_at(b, at) & ((1u64 << (8 * n)) - 1)
    } else if at + n >= 8 {
        word_at(b, at + n - 8) >> (8 * (8 - n))
    } else {
        packed_le(&b[at..at + n])
    }
}

/// Up to 8 bytes as a little-endian word (the first byte low), the high bytes 0.
#[inline]
fn packed_le(b: &[u8]) -> u64 {
    // A byte loop: a copy of variable length would be a call to memcpy.
    b.iter().rev().fold(0u64, |w, &c| (w << 8) | u64::from(c))
}

/// splitmix64's finaliser, so that related tokens spread over all 64 bits.
const fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// [`word_tag`] of a line's token whose [`Shape`] is known: the same class, the shape sparing
/// the scan of a lower-case token (letters only, or a digit or non-ASCII byte: no word).
#[inline]
fn tag_shaped(h: u64, b: &[u8], shape: Shape) -> u64 {
    match b.first() {
        Some(c) if c.is_ascii_lowercase() && shape.is_letters() => {
            (h & !TAGS) | lower_class(b, true)
        }
        Some(c) if c.is_ascii_lowercase() && shape.has_digit_or_high() => {
            (h & !TAGS) | (CAPITAL * u64::from(is_device_name(b)))
        }
        _ => word_tag(h, b),
    }
}

/// [`token_hash`] of `buf[s..e]`, whose [`Shape`] is `shape`, reading a short token as one
/// (unaligned) word of the buffer around it: the line's tokens are hashed in place, most of
/// them short.
fn token_hash_in(buf: &[u8], s: usize, e: usize, shape: Shape) -> u64 {
    tag_shaped(untagged_hash_in(buf, s, e), &buf[s..e], shape)
}

/// [`untagged_hash`] of `buf[s..e]`, reading a short token as one word of the buffer around it.
#[inline(always)]
fn untagged_hash_in(buf: &[u8], s: usize, e: usize) -> u64 {
    mix(pre_hash_in(buf, s, e))
}

/// [`pre_hash`] of `buf[s..e]`, reading a short token as one word of the buffer around it.
#[inline(always)]
fn pre_hash_in(buf: &[u8], s: usize, e: usize) -> u64 {
    let len = e - s;
    if len == 0 || len >= 8 {
        return pre_hash(&buf[s..e]);
    }
    let word = |w: &[u8]| {
        let mut x = [0u8; 8];
        x.copy_from_slice(w);
        u64::from_le_bytes(x)
    };
    // The token's `len` bytes as the low bytes: the same word as `token_hash` packs.
    let packed = if let Some(w) = buf.get(s..s + 8) {
        word(w) & ((1u64 << (8 * len)) - 1)
    } else if e >= 8 {
        word(&buf[e - 8..e]) >> (8 * (8 - len))
    } else {
        return pre_hash(&buf[s..e]);
    };
    packed | ((len as u64) << 56)
}

/// The end of the token at `s` (as [`token_end`]) and [`pre_hash_in`] of it, in one
/// reading: each word read to find the end is hashed as it is read (a short token is one word,
/// masked; the last bytes of `buf` are read from its last word). A control byte other than
/// white space, or a `buf` shorter than eight bytes, takes the two apart. The byte that ends
/// the token is tested in the word read (see [`lane_is_space`]).
#[inline(always)]
fn token_end_hash(buf: &[u8], s: usize) -> (usize, u64) {
    // Most tokens end within their first word: their hash is that word's bytes, packed with
    // the length, with no loop and no test of the length (which the word's end decides).
    if s + 8 <= buf.len() {
        let x = word_at(buf, s);
        let low = below_bang(x);
        if low != 0 {
            let k = (low.trailing_zeros() / 8) as usize;
            if lane_is_space(x, k) {
                return (s + k, (x & ((1u64 << (8 * k)) - 1)) | ((k as u64) << 56));
            }
        }
    }
    let mut i = s;
    let mut state = 0;
    while i + 8 <= buf.len() {
        let x = word_at(buf, i);
        let low = below_bang(x);
        if low == 0 {
            state = fx_step(state, x);
            i += 8;
            continue;
        }
        let k = (low.trailing_zeros() / 8) as usize;
        if !lane_is_space(x, k) {
            break;
        }
        return ended(s, i, k, x, state);
    }
    // The last bytes, from the word that ends the buffer, shifted down: the lanes past its
    // end hold 0, so the first of them ends the token if nothing before it does.
    let rest = buf.len() - i;
    if (1..8).contains(&rest) && buf.len() >= 8 {
        let x = word_at(buf, buf.len() - 8) >> (8 * (8 - rest));
        let k = (below_bang(x).trailing_zeros() / 8) as usize;
        if k == rest || lane_is_space(x, k) {
            return ended(s, i, k, x, state);
        }
    }
    let e = token_end(buf, i);
    (e, pre_hash_in(buf, s, e))
}

/// Whether the byte in lane `k` of `x`, the lowest lane [`below_bang`] found, is white space:
/// tested in the word, without reading the byte from the buffer again.
#[inline(always)]
fn lane_is_space(x: u64, k: usize) -> bool {
    is_space_below_bang((x >> (8 * k)) as u8)
}

/// [`token_end_hash`] of a token from `s` that ends in the word `x` read at `i`, `k` bytes in,
/// the words before it hashed into `state`.
#[inline(always)]
fn ended(s: usize, i: usize, k: usize, x: u64, state: u64) -> (usize, u64) {
    let (e, last) = (i + k, x & ((1u64 << (8 * k)) - 1));
    let len = e - s;
    if len < 8 {
        return (e, last | ((len as u64) << 56));
    }
    (e, long_pre(state, last, k != 0, len))
}

/// The variable that two different tokens at one position become: `<*>` with the punctuation
/// both share around it, cut at a delimiter, so that `rhost=<*>` (an authentication log's
/// key=value), `<*>,` (a time server in a clock log, before a comma) and `(<*>)` (an address in
/// parentheses in a mail log) keep their constant parts, while `alpha12` and `beta7` are `<*>`.
fn merge_token(a: &str, b: &str) -> Box<str> {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    let delim =
        |c: u8| !(c.is_ascii_alphanumeric() || c >= 0x80 || matches!(c, b'<' | b'*' | b'>'));
    // The shared prefix, up to and including its last delimiter.
    let common = x.iter().zip(y).take_while(|(p, q)| p == q).count();
    let pre = x[..common]
        .iter()
        .rposition(|&c| delim(c))
        .map_or(0, |k| k + 1);
    // The shared suffix, from its first delimiter, not overlapping the prefix.
    let room = x.len().min(y.len()) - pre;
    let common = x
        .iter()
        .rev()
        .zip(y.iter().rev())
        .take(room)
        .take_while(|(p, q)| p == q)
        .count();
    let tail = &x[x.len() - common..];
    let suf = tail
        .iter()
        .position(|&c| delim(c))
        .map_or(0, |k| common - k);
    let mut t = String::with_capacity(pre + 3 + suf);
    t.push_str(&a[..pre]);
    t.push_str(PARAM);
    t.push_str(&a[a.len() - suf..]);
    t.into_boxed_str()
}

/// [`token_hash`] of `<*>`: its three bytes packed with the length, mixed, no class (a test
/// checks it), so that a comparison with it costs no hashing.
const PARAM_HASH: u64 = mix(0x3e_2a_3c | (3 << 56)) & !TAGS;

fn param_hash() -> u64 {
    PARAM_HASH
}

/// [`token_hash`] of a lower-case word shorter than eight letters that does not end in `ed`
/// (class [`WORD`]), as a constant.
const fn short_word_hash(w: &[u8]) -> u64 {
    let mut packed = 0u64;
    let mut i = w.len();
    while i > 0 {
        i -= 1;
        packed = (packed << 8) | w[i] as u64;
    }
    (mix(packed | ((w.len() as u64) << 56)) & !TAGS) | WORD
}

/// The hashes that `differ::words_apart` compares with (a test checks them).
const KNOWN: Known = {
    let mut articles = [0; differ::ARTICLES.len()];
    let mut i = 0;
    while i < articles.len() {
        articles[i] = short_word_hash(differ::ARTICLES[i]);
        i += 1;
    }
    let mut units = [0; differ::UNITS.len()];
    let mut i = 0;
    while i < units.len() {
        units[i] = short_word_hash(differ::UNITS[i]);
        i += 1;
    }
    Known {
        articles,
        units,
        param: PARAM_HASH,
    }
};

impl<'a> Tokens<'a> {
    fn len(&self) -> usize {
        self.spans.len()
    }
    fn get(&self, i: usize) -> &'a str {
        let (s, e) = self.spans[i];
        &self.text[s as usize..e as usize]
    }
}

fn put_u32(w: &mut Vec<u8>, v: u32) {
    w.extend_from_slice(&v.to_le_bytes());
}

fn put_str(w: &mut Vec<u8>, s: &str) {
    put_u32(w, s.len() as u32);
    w.extend_from_slice(s.as_bytes());
}

fn fnv1a(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325, |h, &x| {
        (h ^ u64::from(x)).wrapping_mul(0x0100_0000_01b3)
    })
}

struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], StateError> {
        if self.b.len() < n {
            return Err(StateError::Malformed("truncated"));
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }
    fn u32(&mut self) -> Result<u32, StateError> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(a))
    }
    fn u64(&mut self) -> Result<u64, StateError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }
    fn str(&mut self) -> Result<&'a str, StateError> {
        let n = self.u32()? as usize;
        std::str::from_utf8(self.take(n)?).map_err(|_| StateError::Malformed("invalid UTF-8"))
    }
}

#[cfg(test)]
mod tests;

/// The token path ([`LineHasher`]) on its own.
#[cfg(test)]
mod line_hasher_tests {
    use super::*;

    /// A line's hashes are those of its masked tokens, on lines the memo has seen or not: a
    /// variable that keeps a bracket on one side is hashed with it (only a bare one, a number, is
    /// `<*>` at once), and a token the memo missed keeps the hash of its own bytes.
    #[test]
    fn line_hashes_are_those_of_the_masked_tokens() {
        let mut m = TemplateMiner::new(MinerConfig::default()).unwrap();
        let (mut text, mut spans) = (String::new(), Vec::new());
        let lines = [
            "GET (/a/b HTTP/1.0",
            "at [27/Jul/2005:10:59:53 +0000 x",
            "took 0.860 s from 10.1.2.3 port 22",
            "rows=53354 total=96.14 in 3ms",
            "on Jul 27 10:59:53 2005) x",
        ];
        for _ in 0..2 {
            for line in lines {
                m.add(line);
                let (max, form) = (m.config.max_tokens, m.config.variables);
                mask_line(line, max, form, &mut text, &mut spans);
                let expected: Vec<u64> = spans
                    .iter()
                    .map(|&(s, e)| token_hash(&text[s as usize..e as usize]))
                    .collect();
                assert_eq!(m.line_hashes, expected, "{line}: {text}");
            }
        }
    }

    /// A plain token, short or long, is taken back from the memo the next time, by `known`,
    /// with the hash it was stored with; a token that is not plain (it may start a list) is
    /// not, and a token never seen misses.
    #[test]
    fn plain_tokens_come_back_from_the_memo() {
        let mut m = TemplateMiner::new(MinerConfig::default()).unwrap();
        let line = "alpha Beta [worker-13] order.Service \"curl/8.5.0\" - on x86_64) an14";
        m.add(line);
        let first = m.line_hashes.clone();
        let (form, cache) = (m.config.variables, &mut m.mask_cache);
        let mut hasher = LineHasher::<false>::new(line, Vec::new(), 512, form, cache);
        let mut s = 0;
        for (i, token) in line.split(' ').enumerate() {
            let known = hasher.known(s);
            if token == "an14" {
                assert_eq!(known, None, "{token}");
            } else {
                assert_eq!(known, Some(s + token.len()), "{token}");
                assert_eq!(hasher.hashes.last(), Some(&first[i]), "{token}");
            }
            s += token.len() + 1;
        }
        let other = "gamma";
        let mut hasher = LineHasher::<false>::new(other, Vec::new(), 512, form, cache);
        assert_eq!(hasher.known(0), None);
    }

    /// A variable whose kept bytes are packed at once hashes as its text pushed piece by
    /// piece, in both forms, wherever it sits in the buffer (its first bytes, its last, a
    /// buffer shorter than a word): kept bytes drawn from brackets, quotes, the bytes that
    /// `collapse` treats apart (`<`, `>`, a backquote) and a non-ASCII letter.
    #[test]
    fn short_variables_hash_as_their_text() {
        let pieces = [
            "", "[", "]", "(", ")", "\"", "'", "<", ">", "`", ",", ":", "\u{e9}", "x",
        ];
        let mut next = crate::test_rng::xorshift(0x2545_f491_4f6c_dd1d_u64);
        let mut taken = 0;
        for _ in 0..50_000 {
            let mut piece = || pieces[(next() % pieces.len() as u64) as usize];
            let (prefix, suffix) = ([piece(), piece()].concat(), [piece(), piece()].concat());
            let cut = |s: &str, n: u64| s[..(n as usize % (s.len() + 1))].to_string();
            let (before, after) = (cut("ab cd ef ", next()), cut(" gh ij kl", next()));
            let buf = format!("{before}{prefix}12345{suffix}{after}");
            let s = before.len();
            let open = s + prefix.len();
            let close = open + 5;
            let e = close + suffix.len();
            for form in [VariableForm::Token, VariableForm::Parts] {
                let mut hasher = TokenHasher::default();
                push_variable(&prefix, &suffix, form, &mut hasher);
                let want = hasher.finish();
                if let Some(h) = short_variable(buf.as_bytes(), (s, open), (close, e), form) {
                    assert_eq!(h, want, "{buf:?} {form:?}");
                    taken += 1;
                }
            }
        }
        assert!(taken > 10_000, "{taken}");
        // The access log's two variables are taken.
        let b = b"[23/Nov/2026:20:03:14 +0000] /a HTTP/1.1\"";
        for form in [VariableForm::Token, VariableForm::Parts] {
            assert!(short_variable(b, (0, 1), (27, 28), form).is_some());
            assert!(short_variable(b, (29, 29), (40, 41), form).is_some());
        }
    }

    /// Lines around twice the token limit (where `add` stops counting terms against it) keep
    /// as many terms as masking does, and the same ones, for limits of one to six terms.
    #[test]
    fn lines_near_the_token_limit_keep_the_masked_terms() {
        let words = [
            "a", "bb", "[1]", "Jul", "27", "x=1", "starting", "nginx", "-",
        ];
        let mut next = crate::test_rng::xorshift(0x9e37_79b9_7f4a_7c15_u64);
        let (mut text, mut spans) = (String::new(), Vec::new());
        for max_tokens in 1..=6 {
            let config = MinerConfig {
                max_tokens,
                ..MinerConfig::default()
            };
            let mut m = TemplateMiner::new(config).unwrap();
            for _ in 0..3_000 {
                let n = (next() % 9) as usize;
                let line: Vec<&str> = (0..n)
                    .map(|_| words[(next() % words.len() as u64) as usize])
                    .collect();
                let line = line.join([" ", "  "][(next() % 2) as usize]);
                m.add(&line);
                let (max, form) = (m.config.max_tokens, m.config.variables);
                mask_line(&line, max, form, &mut text, &mut spans);
                let expected: Vec<u64> = spans
                    .iter()
                    .map(|&(s, e)| token_hash(&text[s as usize..e as usize]))
                    .collect();
                assert_eq!(m.line_hashes, expected, "{max_tokens}: {line:?}: {text}");
            }
        }
    }
}
