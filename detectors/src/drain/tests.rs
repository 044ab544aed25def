use super::*;

fn miner() -> TemplateMiner {
    TemplateMiner::new(MinerConfig::default()).unwrap()
}

#[test]
fn similar_lines_merge_into_one_template() {
    let mut m = miner();
    let a = m.add("Connection from 10.0.0.1 closed after 12ms by user 'alice'");
    let b = m.add("Connection from 10.0.0.2 closed after 250ms by user 'bob'");
    assert!(a.is_new);
    assert!(!b.is_new);
    assert_eq!(a.template_id, b.template_id);
    assert!(b.template_changed, "the user name became a parameter");
    assert_eq!(
        m.template(a.template_id),
        Some("Connection from <*> closed after <*> by user <*>")
    );
    let c = m.add("Connection from 10.0.0.3 closed after 1ms by user 'carol'");
    assert_eq!(c.template_id, a.template_id);
    assert!(!c.template_changed);
    assert_eq!(m.count(a.template_id), Some(3));
    assert_eq!(m.len(), 1);
}

#[test]
fn two_different_capitalised_words_are_two_messages() {
    let mut m = miner();
    // A hypervisor's lifecycle events and a switch's link states: one word apart, each its own.
    let started = m.add("[instance: 6f1c] VM Started (Lifecycle Event)");
    let paused = m.add("[instance: 77ab] VM Paused (Lifecycle Event)");
    assert_ne!(started.template_id, paused.template_id);
    let up = m.add("Interface eth0 changed state to Up");
    let down = m.add("Interface eth1 changed state to Down");
    assert_ne!(up.template_id, down.template_id);
    // Lower-case words that vary are as often values: they merge.
    let root = m.add("session opened for user root by (uid=0)");
    let news = m.add("session opened for user news by (uid=9)");
    assert_eq!(root.template_id, news.template_id);
    assert_eq!(
        m.template(root.template_id),
        Some("session opened for user <*> by (uid=<*>)")
    );
    assert_eq!(
        m.add("[instance: 0e2d] VM Started (Lifecycle Event)")
            .template_id,
        started.template_id
    );
    // Values are no words: quoted or bracketed names, numbers with their units.
    let a = m.add("Started service 'sparkDriver' on port 4040 after 12 ms of setup");
    let b = m.add("Started service 'blockManager' on port 4041 after 3 s of setup");
    assert_eq!(a.template_id, b.template_id);
    assert_eq!(
        m.template(a.template_id),
        Some("Started service <*> on port <*> after <*> <*> of setup")
    );
    let c = m.add("PCI Interrupt Link [LNKA] enabled at IRQ 11");
    let d = m.add("PCI Interrupt Link [LNKB] enabled at IRQ 10");
    assert_eq!(c.template_id, d.template_id);
}

#[test]
fn different_lines_do_not_merge() {
    let mut m = miner();
    let a = m.add("Starting service nginx on this host now");
    let b = m.add("Disk /dev/sda1 is almost full");
    let c = m.add("Stopping service worker on request");
    // A value, not a second word (see `two_different_capitalised_words_are_two_messages`).
    let d = m.add("Starting service postgres-14 on this host now");
    assert_ne!(a.template_id, b.template_id);
    assert_ne!(
        a.template_id, c.template_id,
        "different token counts never merge"
    );
    assert_eq!(a.template_id, d.template_id);
    // Same length, same first tokens, too few equal tokens: below the similarity threshold.
    let e = m.add("Starting job backup failed: permission denied");
    let f = m.add("Starting job cleanup done: nothing to do");
    assert_ne!(e.template_id, f.template_id);
    assert_eq!(m.len(), 5);
    assert_eq!(
        m.add("Starting job backup failed: permission denied")
            .template_id,
        e.template_id
    );
    assert_eq!(
        m.template(a.template_id),
        Some("Starting service <*> on this host now")
    );
    // One word apart in three is too far (similarity 2/3 is under the default 0.78).
    let g = m.add("Stopping service nginx");
    let h = m.add("Stopping service postgres");
    assert_ne!(g.template_id, h.template_id);
    assert_eq!(m.template(999), None);
}

#[test]
fn empty_and_whitespace_lines_share_a_template() {
    let mut m = miner();
    let a = m.add("");
    let b = m.add("   \t ");
    assert_eq!(a.template_id, b.template_id);
    assert_eq!(m.template(a.template_id), Some(""));
}

#[test]
fn ids_are_sequential_and_never_reused() {
    let mut m = TemplateMiner::new(MinerConfig {
        max_clusters: 2,
        ..MinerConfig::default()
    })
    .unwrap();
    let ids: Vec<u64> = [
        "alpha one",
        "beta two three",
        "gamma four five six",
        "delta",
    ]
    .iter()
    .map(|l| m.add(l).template_id)
    .collect();
    assert_eq!(ids, [1, 2, 3, 4]);
}

#[test]
fn lru_eviction_bounds_the_templates() {
    let cap = 50;
    let mut m = TemplateMiner::new(MinerConfig {
        max_clusters: cap,
        ..MinerConfig::default()
    })
    .unwrap();
    let first = m.add("keep me alive please").template_id;
    let mut evicted = Vec::new();
    for i in 0..1000 {
        // Distinct templates: different words in every position, different lengths.
        let words: Vec<String> = (0..(i % 7 + 1))
            .map(|k| format!("w{}x{}", letter(i), letter(k)))
            .collect();
        let line = words.join(" ");
        let r = m.add(&line);
        evicted.extend(r.evicted);
        assert!(m.len() <= cap);
        // Keep the first template recently used.
        assert_eq!(m.add("keep me alive please").template_id, first);
    }
    assert_eq!(m.len(), cap);
    assert_eq!(m.evictions() as usize, evicted.len());
    assert!(!evicted.contains(&first));
    for id in &evicted {
        assert_eq!(m.template(*id), None);
    }
    // The tree does not keep nodes of evicted templates.
    let live_nodes = m.nodes.iter().filter(|n| n.is_some()).count();
    assert!(
        live_nodes <= cap * 3 + 8,
        "{live_nodes} nodes for {cap} templates"
    );
}

/// A deterministic letter-only word for `i` (digits would be masked).
fn letter(i: usize) -> String {
    let mut s = String::new();
    let mut n = i;
    loop {
        s.push((b'a' + (n % 26) as u8) as char);
        n /= 26;
        if n == 0 {
            return s;
        }
    }
}

#[test]
fn max_children_overflow_goes_to_the_param_branch() {
    let mut m = TemplateMiner::new(MinerConfig {
        max_children: 3,
        ..MinerConfig::default()
    })
    .unwrap();
    // `a_` and the like are no words (see `is_word`): they may merge.
    let ids: Vec<u64> = ["a_ x y z w", "b_ x y z w", "c_ x y z w", "d_ x y z w"]
        .iter()
        .map(|l| m.add(l).template_id)
        .collect();
    // "c" and "d" share the <*> branch, where "d" joins "c"'s template (4 of 5 tokens equal).
    assert_eq!(ids, [1, 2, 3, 3]);
    assert_eq!(m.template(3), Some("<*> x y z w"));
}

#[test]
fn long_lines_are_bounded() {
    let mut m = TemplateMiner::new(MinerConfig {
        max_tokens: 4,
        ..MinerConfig::default()
    })
    .unwrap();
    let a = m.add("a b c d e f g");
    let b = m.add("a b c d x");
    assert_eq!(a.template_id, b.template_id);
    assert_eq!(m.template(a.template_id), Some("a b c d <*>"));
}

#[test]
fn state_round_trips_with_stable_ids() {
    let lines = [
        "Receiving block blk_1 src: /10.0.0.1:50010 dest: /10.0.0.2:50010",
        "PacketResponder 1 for block blk_2 terminating",
        "Receiving block blk_3 src: /10.0.0.3:50010 dest: /10.0.0.4:50010",
        "Verification succeeded for blk_4",
        "PacketResponder 0 for block blk_5 terminating",
    ];
    let mut m = miner();
    let ids: Vec<u64> = lines.iter().map(|l| m.add(l).template_id).collect();
    let bytes = m.to_bytes();
    let mut r = TemplateMiner::from_bytes(MinerConfig::default(), &bytes).unwrap();
    assert_eq!(r.len(), m.len());
    let a: Vec<_> = m
        .templates()
        .map(|t| (t.id, t.template.to_string(), t.count))
        .collect();
    let b: Vec<_> = r
        .templates()
        .map(|t| (t.id, t.template.to_string(), t.count))
        .collect();
    assert_eq!(a, b, "same templates, counts and recency");
    assert_eq!(r.to_bytes(), bytes, "export is deterministic");
    // The restored miner continues exactly as the original would.
    for l in lines
        .iter()
        .chain(["a brand new line", "Verification succeeded for blk_9"].iter())
    {
        assert_eq!(r.add(l), m.add(l), "{l}");
    }
    assert_eq!(r.add(lines[0]).template_id, ids[0]);
    assert_eq!(
        r.add("another new one here").template_id,
        m.add("another new one here").template_id
    );
}

#[test]
fn state_restores_the_lru_order_and_shrinks_to_a_smaller_bound() {
    let mut m = miner();
    for l in [
        "one",
        "two words",
        "three words here",
        "four words right here",
    ] {
        m.add(l);
    }
    m.add("one"); // most recent now
    let bytes = m.to_bytes();
    let small = MinerConfig {
        max_clusters: 2,
        ..MinerConfig::default()
    };
    let r = TemplateMiner::from_bytes(small, &bytes).unwrap();
    let ids: Vec<u64> = r.templates().map(|t| t.id).collect();
    assert_eq!(ids, [1, 4]);
}

#[test]
fn bad_state_is_refused() {
    let mut m = miner();
    m.add("hello world 1");
    m.add("hello world 2");
    let bytes = m.to_bytes();
    let cfg = MinerConfig::default;
    assert_eq!(
        TemplateMiner::from_bytes(cfg(), b"nope").unwrap_err(),
        StateError::Magic
    );
    let mut v = bytes.clone();
    v[4] = 9;
    assert_eq!(
        TemplateMiner::from_bytes(cfg(), &v).unwrap_err(),
        StateError::Version(9)
    );
    for i in 6..bytes.len() {
        let mut v = bytes.clone();
        v[i] ^= 0x40;
        assert_eq!(
            TemplateMiner::from_bytes(cfg(), &v).unwrap_err(),
            StateError::Checksum,
            "byte {i}"
        );
    }
    for n in 0..bytes.len() {
        assert!(
            TemplateMiner::from_bytes(cfg(), &bytes[..n]).is_err(),
            "prefix {n}"
        );
    }
    let deeper = MinerConfig {
        depth: 5,
        ..MinerConfig::default()
    };
    assert_eq!(
        TemplateMiner::from_bytes(deeper, &bytes).unwrap_err(),
        StateError::Depth {
            found: 4,
            expected: 5
        }
    );
}

/// A state's bytes with the fields at `at` replaced and the checksum made valid again.
fn patched(bytes: &[u8], at: usize, with: &[u8]) -> Vec<u8> {
    let mut v = bytes[..bytes.len() - 8].to_vec();
    v[at..at + with.len()].copy_from_slice(with);
    let sum = fnv1a(&v);
    v.extend_from_slice(&sum.to_le_bytes());
    v
}

/// A state with a valid checksum can still hold numbers that would overflow: a next id of
/// u64::MAX handed out ids past it (0, then ids in use); a count of u64::MAX overflowed on
/// the next line. (Layout: magic 4, version 2, depth 4, next id 8 at 10, live 4, then the
/// least recent template: id 8, count 8 at 30.)
#[test]
fn out_of_range_ids_are_refused_and_counts_saturate() {
    let mut m = miner();
    let a = m.add("disk full on /dev/sda1").template_id;
    let bytes = m.to_bytes();
    for next in [0, u64::MAX, MAX_ID + 1] {
        assert_eq!(
            TemplateMiner::from_bytes(
                MinerConfig::default(),
                &patched(&bytes, 10, &next.to_le_bytes())
            )
            .unwrap_err(),
            StateError::Malformed("next template id out of range"),
            "next id {next}"
        );
    }
    let mut r = TemplateMiner::from_bytes(
        MinerConfig::default(),
        &patched(&bytes, 30, &u64::MAX.to_le_bytes()),
    )
    .unwrap();
    assert_eq!(r.count(a), Some(u64::MAX));
    assert_eq!(r.add("disk full on /dev/sdb1").template_id, a);
    assert_eq!(r.count(a), Some(u64::MAX));
}

#[test]
fn invalid_configs_are_refused() {
    let bad = [
        MinerConfig {
            depth: 2,
            ..MinerConfig::default()
        },
        MinerConfig {
            similarity: 0.0,
            ..MinerConfig::default()
        },
        MinerConfig {
            similarity: f64::NAN,
            ..MinerConfig::default()
        },
        MinerConfig {
            max_children: 1,
            ..MinerConfig::default()
        },
        MinerConfig {
            max_clusters: 0,
            ..MinerConfig::default()
        },
        MinerConfig {
            max_tokens: 0,
            ..MinerConfig::default()
        },
    ];
    for c in bad {
        assert!(TemplateMiner::new(c.clone()).is_err(), "{c:?}");
    }
}

#[test]
fn tokens_hashed_in_place_hash_as_alone() {
    // Every short token at every offset, near the buffer's end too (where no word can be read).
    let buf = "a <*> sshd[<*>]: x\u{e9}y 0123456 01234567 \u{1F600}z";
    for s in (0..=buf.len()).filter(|&i| buf.is_char_boundary(i)) {
        for e in (s..=buf.len()).filter(|&i| buf.is_char_boundary(i)) {
            assert_eq!(
                token_hash_in(buf.as_bytes(), s, e, Shape::of(&buf.as_bytes()[s..e])),
                token_hash(&buf[s..e]),
                "{:?}",
                &buf[s..e]
            );
        }
    }
}

#[test]
fn a_token_read_once_has_the_end_and_hash_of_two_readings() {
    // Tokens of 0 to 30 bytes, with control bytes inside and white space of every kind after,
    // at every offset and near the buffer's end.
    let alphabet = [
        b' ', b'\t', b'\n', 0x0b, 0x0c, b'\r', 0, 0x1f, b'!', b'a', b'z', 0x80, 0xff, b'7',
    ];
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..20_000 {
        let len = (next() % 32) as usize;
        let b: Vec<u8> = (0..len)
            .map(|_| {
                // Mostly token bytes, so that long tokens occur.
                let n = next() as usize;
                if n.is_multiple_of(4) {
                    alphabet[n / 4 % alphabet.len()]
                } else {
                    b'a' + (n / 4 % 26) as u8
                }
            })
            .collect();
        for s in (0..len).filter(|&s| !b[s].is_ascii_whitespace()) {
            let e = token_end(&b, s);
            let (end, pre) = token_end_hash(&b, s);
            assert_eq!(
                (end, mix(pre)),
                (e, untagged_hash(&b[s..e])),
                "{b:?} from {s}"
            );
            assert_eq!(pre, pre_hash(&b[s..e]), "{b:?} from {s}");
        }
    }
}

#[test]
fn tokens_hashed_in_pieces_hash_as_whole() {
    // Every split of texts around the 8-byte word size into up to three pieces.
    let texts = [
        "",
        "a",
        "<*>",
        "blk_<*>",
        "abcdefg",
        "abcdefgh",
        "[<*>/<*>/<*>:<*>:<*>:<*>",
        "x\u{e9}y<*>-<*>-<*>-<*>-<*>",
        "/var/lib/app/data/<*>/segment-<*>.log",
    ];
    let mut hasher = TokenHasher::default();
    for t in texts {
        let bounds: Vec<usize> = (0..=t.len()).filter(|&i| t.is_char_boundary(i)).collect();
        for &i in &bounds {
            for &j in bounds.iter().filter(|&&j| j >= i) {
                hasher.push(&t[..i]);
                hasher.push(&t[i..j]);
                hasher.push(&t[j..]);
                // Masked text (what the hasher takes) has no class: no tag.
                assert_eq!(
                    hasher.finish(),
                    token_hash(t) & !TAGS,
                    "{t:?} split at {i}, {j}"
                );
            }
        }
    }
}

#[test]
fn parameters_pushed_in_one_step_hash_as_text() {
    let mut hasher = TokenHasher::default();
    for t in [
        "<*>",
        "blk_<*>",
        "[<*>/<*>/<*>:<*>:<*>:<*>",
        "<*><*><*>x<*>",
        "a<*>bcdefgh<*>",
    ] {
        // Every start offset within the word.
        for k in 0..=9 {
            let prefix = &"abcdefghi"[..k];
            hasher.push(prefix);
            for (i, part) in t.split(PARAM).enumerate() {
                if i > 0 {
                    hasher.push_param();
                }
                hasher.push(part);
            }
            let text = format!("{prefix}{t}");
            assert_eq!(hasher.finish(), token_hash(&text), "{text:?}");
        }
    }
}

#[test]
fn line_hashes_are_those_of_the_masked_text_with_the_memo() {
    // Recurring mixed tokens and capitalised words (memo hits), new ones (misses, slots
    // overwritten), and plain ones.
    let mut m = miner();
    let (mut text, mut spans) = (String::new(), Vec::new());
    for i in 0..10_000u32 {
        let name: String = std::iter::successors(Some(i % 5000), |&n| (n >= 26).then_some(n / 26))
            .map(|n| char::from(b'a' + (n % 26) as u8))
            .collect();
        let line = format!(
            "[worker-{}] HTTP/1.1\" order.Service node{} x{}y \"curl/8.5.0\" id={:x} {} - done \
             Started Accepted KB Q{name} {i}",
            i % 16,
            i % 3000,
            i,
            i.wrapping_mul(2_654_435_761),
            i
        );
        m.add(&line);
        mask_line(
            &line,
            m.config.max_tokens,
            m.config.variables,
            &mut text,
            &mut spans,
        );
        let expected: Vec<u64> = spans
            .iter()
            .map(|&(s, e)| token_hash(&text[s as usize..e as usize]))
            .collect();
        assert_eq!(m.line_hashes, expected, "{line}");
    }
}

#[test]
fn remembered_tokens_still_start_variables_over_several_tokens() {
    // Each token first seen where it is one term, then where it starts (or is) a variable over
    // several tokens or a verb's object: a memo hit must not skip that.
    let lines = [
        "user nginx ok",
        "starting nginx",
        "month Jul of",
        "at Jul 27 10:59:53 2005 done",
        "node an14 down",
        "lost an14 an15 an16",
        "blk_-51 gone",
        "delete blk_-51 blk_76",
        "tag=\"View now",
        "lock tag=\"View Lock\", held",
        "path /index.html seen",
        "GET /index.html HTTP/1.1\" 200",
        "order.Service up",
        "order.Service order.Service up",
    ];
    let mut m = miner();
    let (mut text, mut spans) = (String::new(), Vec::new());
    for _ in 0..2 {
        for line in lines {
            m.add(line);
            mask_line(
                line,
                m.config.max_tokens,
                m.config.variables,
                &mut text,
                &mut spans,
            );
            let expected: Vec<u64> = spans
                .iter()
                .map(|&(s, e)| token_hash(&text[s as usize..e as usize]))
                .collect();
            assert_eq!(m.line_hashes, expected, "{line}: {text}");
        }
    }
}

fn parts() -> MinerConfig {
    MinerConfig {
        variables: VariableForm::Parts,
        ..MinerConfig::default()
    }
}

#[test]
fn a_variable_is_the_whole_token_by_default() {
    let mut m = miner();
    // A storage log's block ids and a scheduler's attempt ids: the whole token varies.
    let a = m.add("Deleting block blk_-1608999687919862906 file /data/1/blk_1");
    m.add("Deleting block blk_7503483334202473044 file /data/2/blk_7");
    assert_eq!(
        m.template(a.template_id),
        Some("Deleting block <*> file <*>")
    );
    let b = m.add("Launching appattempt_1445144423722_0020_000001 on node-12 (v1.2.3)");
    assert_eq!(
        m.template(b.template_id),
        Some("Launching <*> on node-<*> (<*>)")
    );
    // The finer form keeps the constant part.
    let mut p = TemplateMiner::new(parts()).unwrap();
    let a = p.add("Deleting block blk_-1608999687919862906 file /data/1/blk_1");
    assert_eq!(
        p.template(a.template_id),
        Some("Deleting block blk_<*> file <*>")
    );
    let b = p.add("Launching appattempt_1445144423722_0020_000001 on node-12 (v1.2.3)");
    assert_eq!(
        p.template(b.template_id),
        Some("Launching appattempt_<*>_<*>_<*> on node-<*> (<*>.<*>.<*>)")
    );
}

#[test]
fn finer_templates_restore_into_the_whole_token_form_under_their_ids() {
    let lines = [
        "Verification succeeded for blk_4",
        "Served block blk_9 to /10.0.0.1",
        "Launching appattempt_1_2_3 now",
    ];
    let mut old = TemplateMiner::new(parts()).unwrap();
    let ids: Vec<u64> = lines.iter().map(|l| old.add(l).template_id).collect();
    assert_eq!(
        old.template(ids[0]),
        Some("Verification succeeded for blk_<*>")
    );
    let saved: Vec<(u64, u64, String)> = old
        .templates()
        .map(|t| (t.id, t.count, t.template.to_owned()))
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    // Through the template list (the agent's saved state) and the miner's own state format.
    let list = saved.iter().map(|(i, c, t)| (*i, *c, t.as_str()));
    let by_list = TemplateMiner::with_templates(MinerConfig::default(), old.next_id(), list);
    let by_bytes = TemplateMiner::from_bytes(MinerConfig::default(), &old.to_bytes());
    for mut m in [by_list.unwrap(), by_bytes.unwrap()] {
        assert_eq!(m.template(ids[0]), Some("Verification succeeded for <*>"));
        assert_eq!(m.template(ids[2]), Some("Launching <*> now"));
        for (line, id) in lines.iter().zip(&ids) {
            let again = m.add(&line.replace('4', "77").replace('9', "5"));
            assert_eq!(again.template_id, *id, "{line}");
            assert!(!again.is_new);
        }
        // Templates already in the whole form are unchanged by a round trip.
        let back = TemplateMiner::from_bytes(MinerConfig::default(), &m.to_bytes()).unwrap();
        let a: Vec<_> = m
            .templates()
            .map(|t| (t.id, t.template.to_owned()))
            .collect();
        let b: Vec<_> = back
            .templates()
            .map(|t| (t.id, t.template.to_owned()))
            .collect();
        assert_eq!(a, b);
    }
}

#[test]
fn a_merged_variable_keeps_the_punctuation_both_tokens_share() {
    assert_eq!(
        &*merge_token("rhost=10.0.0.1", "rhost=host.example"),
        "rhost=<*>"
    );
    assert_eq!(&*merge_token("<*>,", "ntp.example.org,"), "<*>,");
    assert_eq!(&*merge_token("(<*>)", "(mail.example)"), "(<*>)");
    assert_eq!(&*merge_token("alpha", "beta"), "<*>");
    assert_eq!(&*merge_token("x,", ","), "<*>,");
    assert_eq!(&*merge_token("a:b", "a:"), "a:<*>");
    // Through the miner: a clock log's time servers and an authentication log's remote hosts.
    let mut m = miner();
    let a = m.add("synchronized to 10.100.4.251, stratum 3");
    m.add("synchronized to ntp.example.org, stratum 2");
    assert_eq!(
        m.template(a.template_id),
        Some("synchronized to <*>, stratum <*>")
    );
    let b = m.add(
        "authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=10.1.2.3 user=root",
    );
    m.add("authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=10.1.2.9 user=guest");
    assert_eq!(
        m.template(b.template_id),
        Some("authentication failure; logname= uid=<*> euid=<*> tty=ssh ruser= rhost=<*> user=<*>")
    );
}

#[test]
fn host_names_are_variables_even_as_the_first_token() {
    let mut m = miner();
    let a = m.add("api.example.com:443 closed after 3 s, 512 bytes sent");
    let b = m.add("db7.internal.example.org:5432 closed after 12 s, 9 bytes sent");
    let c = m.add("cache-2:6379 closed after 1 s, 64 bytes sent");
    assert_eq!(a.template_id, b.template_id);
    assert_eq!(a.template_id, c.template_id);
    assert!(
        !b.template_changed,
        "the host was a variable from the first line"
    );
    assert_eq!(
        m.template(a.template_id),
        Some("<*> closed after <*> s, <*> bytes sent")
    );
}

// The leaf index (see `leaf_index`) must choose exactly what a scan of the leaf chooses, and
// the memo of answers (see `recall`) what the search would answer.

/// Miners that differ only in when a leaf gets its index: never (the scan), always, and from a
/// few templates on (leaves switch from the scan to the index mid-stream); each without and
/// with the memo of answers. The first is the plain search: the scan, no memo.
fn index_variants(config: &MinerConfig) -> Vec<TemplateMiner> {
    [false, true]
        .into_iter()
        .flat_map(|recall| [usize::MAX, 1, 4].map(|from| (recall, from)))
        .map(|(recall, from)| {
            let mut m = TemplateMiner::new(config.clone()).unwrap();
            m.index_from = from;
            m.use_recall = recall;
            m
        })
        .collect()
}

/// Feeds `lines` to every variant and checks that each line gets the same outcome, and that the
/// templates, counts and recency come out the same.
fn assert_index_agrees_with_scan<'a>(
    config: &MinerConfig,
    lines: impl IntoIterator<Item = &'a str>,
    what: &str,
) {
    let mut miners = index_variants(config);
    for (n, line) in lines.into_iter().enumerate() {
        let scan = miners[0].add(line);
        for (k, m) in miners.iter_mut().enumerate().skip(1) {
            assert_eq!(m.add(line), scan, "{what}: variant {k}, line {n}: {line:?}");
        }
    }
    let all = |m: &TemplateMiner| {
        m.templates()
            .map(|t| (t.id, t.count, t.template.to_owned()))
            .collect::<Vec<_>>()
    };
    for m in &miners[1..] {
        assert_eq!(all(m), all(&miners[0]), "{what}: final templates");
        assert_eq!(m.evictions(), miners[0].evictions(), "{what}: evictions");
        assert_index_places(m, what);
    }
}

/// Every template of an indexed leaf knows its places in the leaf's index (the places that
/// merges and evictions moved included), and no other template has any.
fn assert_index_places(m: &TemplateMiner, what: &str) {
    for (slot, c) in m.clusters.iter().enumerate() {
        let Some(c) = c else { continue };
        match &m.node(c.leaf).index {
            Some(index) => assert!(
                index.holds(slot as u32, &c.hashes, &c.index_at),
                "{what}: template {} lost its places in the index",
                c.id
            ),
            None => assert!(c.index_at.is_empty(), "{what}: places without an index"),
        }
    }
}

/// Lines built to stress the index: one first token, a few lengths, a small vocabulary of
/// lower-case words, capitalised words (no candidate across two of them), numbers (masked to
/// `<*>`, so lines share the tree's `<*>` branch and templates gain variables as they merge) and
/// tokens whose variable keeps punctuation (`id=<*>`, `(<*>)`).
fn stress_lines(seed: u64, n: usize) -> Vec<String> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let lower = ["open", "close", "read", "write", "sync", "flush", "retry"];
    let upper = ["Started", "Stopped", "Paused", "Failed", "Ready"];
    (0..n)
        .map(|_| {
            let len = rng.random_range(3..=9);
            let mut t = vec!["svc".to_owned()];
            for _ in 1..len {
                t.push(match rng.random_range(0..10) {
                    0..=3 => lower[rng.random_range(0..lower.len())].to_owned(),
                    4..=5 => upper[rng.random_range(0..upper.len())].to_owned(),
                    6 => rng.random_range(0..1000).to_string(),
                    7 => format!("id={}", rng.random_range(0..50)),
                    8 => format!("({})", lower[rng.random_range(0..lower.len())]),
                    _ => format!("k{}", lower[rng.random_range(0..3)]),
                });
            }
            t.join(" ")
        })
        .collect()
}

#[test]
fn the_leaf_index_finds_what_the_scan_finds_on_generated_lines() {
    let configs = [
        MinerConfig::default(),
        // Evictions: templates leave indexed leaves all the time.
        MinerConfig {
            max_clusters: 40,
            ..MinerConfig::default()
        },
        // A low threshold: many candidates per line, most of a leaf.
        MinerConfig {
            similarity: 0.4,
            ..MinerConfig::default()
        },
        // Only identical lines join: the pigeonhole picks every position.
        MinerConfig {
            similarity: 1.0,
            depth: 3,
            ..MinerConfig::default()
        },
        // A threshold so low that every template of the leaf is a candidate.
        MinerConfig {
            similarity: 1e-12,
            ..MinerConfig::default()
        },
        MinerConfig {
            variables: VariableForm::Parts,
            max_children: 2,
            ..MinerConfig::default()
        },
    ];
    for (i, config) in configs.iter().enumerate() {
        for seed in 0..4 {
            let lines = stress_lines(seed, 3_000);
            let what = format!("config {i}, seed {seed}");
            assert_index_agrees_with_scan(config, lines.iter().map(String::as_str), &what);
        }
    }
}

#[test]
fn the_leaf_index_finds_what_the_scan_finds_on_loghub() {
    let Some(samples) = loghub_samples() else {
        return;
    };
    assert_eq!(samples.len(), 10, "the ten Loghub datasets");
    for (name, format, lines) in &samples {
        let contents: Vec<&str> = lines
            .iter()
            .map(|l| format.split(l).map_or(l.as_str(), |f| f.content()))
            .collect();
        let raw: Vec<&str> = lines
            .iter()
            .map(|l| crate::split_header(l).content())
            .collect();
        for config in [MinerConfig::default(), parts()] {
            assert_index_agrees_with_scan(&config, contents.iter().copied(), name);
            assert_index_agrees_with_scan(&config, raw.iter().copied(), name);
        }
    }
}

/// The Loghub samples under `SEISMO_EVAL_DATA` (`None`, said on stderr, when it is not set):
/// each dataset's name, its header format and its lines without their `\r`.
fn loghub_samples() -> Option<Vec<(String, crate::LogFormat, Vec<String>)>> {
    let Some(dir) = std::env::var_os("SEISMO_EVAL_DATA") else {
        eprintln!("SEISMO_EVAL_DATA is not set: skipping the Loghub samples");
        return None;
    };
    let dir = std::path::PathBuf::from(dir).join("loghub");
    let formats = std::fs::read_to_string(dir.join("log_formats.tsv")).unwrap();
    let samples = formats
        .lines()
        .skip(1)
        .map(|row| {
            let cols: Vec<&str> = row.split('\t').collect();
            let (name, fmt) = (cols[0], cols[1]);
            let format = crate::LogFormat::parse(fmt).unwrap();
            let bytes = std::fs::read(dir.join(name).join(format!("{name}_2k.log"))).unwrap();
            let lines = String::from_utf8_lossy(&bytes)
                .lines()
                .map(|l| l.strip_suffix('\r').unwrap_or(l).to_owned())
                .collect();
            (name.to_owned(), format, lines)
        })
        .collect();
    Some(samples)
}

#[test]
fn evicting_from_an_indexed_leaf_keeps_the_leaf_and_index_consistent() {
    // Templates of one leaf, bounded below their number: every new one evicts the oldest, whose
    // lines must then start a new template (the index forgot it) while the others still match.
    let mut m = TemplateMiner::new(MinerConfig {
        max_clusters: 8,
        ..MinerConfig::default()
    })
    .unwrap();
    m.index_from = 2;
    let line = |i: usize| {
        format!(
            "job 7 {} {} {} done",
            letter(i),
            letter(i + 100),
            letter(i + 200)
        )
    };
    let ids: Vec<u64> = (0..20).map(|i| m.add(&line(i)).template_id).collect();
    assert_eq!(m.len(), 8);
    for (i, &id) in ids.iter().enumerate().skip(12) {
        assert_eq!(
            m.add(&line(i)),
            Match {
                template_id: id,
                is_new: false,
                template_changed: false,
                evicted: None
            }
        );
    }
    let again = m.add(&line(0));
    assert!(again.is_new, "an evicted template is gone from the index");
    let leaf = m.cluster(*m.by_id.get(&ids[19]).unwrap()).unwrap().leaf;
    let node = m.node(leaf);
    assert_eq!(node.clusters.len(), 8);
    for (at, &slot) in node.clusters.iter().enumerate() {
        assert_eq!(m.cluster(slot).unwrap().leaf_at as usize, at);
    }
    assert_index_places(&m, "evictions");
}

#[test]
fn token_classes_travel_in_the_hash() {
    for (t, tag) in [
        ("Started", CAPITAL),
        ("Stopped.", CAPITAL),
        ("stored", differ::PARTICIPLE),
        ("closed.", differ::PARTICIPLE),
        ("fred", WORD),
        ("ahmed", WORD),
        ("spawn", WORD),
        ("bytes", WORD),
        ("runInThread", WORD),
        ("done.", WORD),
        ("a", WORD),
        ("x1", CAPITAL),
        ("eth0:", CAPITAL),
        ("x12", 0),
        ("x1y", 0),
        ("caf\u{e9}", 0),
        ("rhost=<*>", 0),
        ("a-b", 0),
        ("****", SYMBOLS),
        ("*", SYMBOLS),
        ("->", SYMBOLS),
        ("=", SYMBOLS),
        ("--", SYMBOLS),
        ("\"*\"", SYMBOLS),
        ("-", 0),
        ("\"-\"", 0),
        ("[-]", 0),
        ("()", 0),
        ("\"\",", 0),
        ("<*>", 0),
        ("(<*>)", 0),
        ("[<*>]:", 0),
        ("KB", 0),
        ("blk_1", 0),
        ("(root)", 0),
        ("", 0),
    ] {
        assert_eq!(token_hash(t) & TAGS, tag, "{t:?}");
        let line = format!("x {t} y");
        assert_eq!(
            token_hash_in(line.as_bytes(), 2, 2 + t.len(), Shape::of(t.as_bytes())),
            token_hash(t),
            "{t:?} in place"
        );
    }
    assert_eq!(param_hash(), token_hash(PARAM));
    for (words, hashes) in [
        (&differ::ARTICLES[..], &KNOWN.articles[..]),
        (&differ::UNITS[..], &KNOWN.units[..]),
    ] {
        for (w, &h) in words.iter().zip(hashes) {
            assert_eq!(h, token_hash_bytes(w), "{:?}", String::from_utf8_lossy(w));
        }
    }
    assert_eq!(KNOWN.param, token_hash(PARAM));
}

#[test]
fn punctuation_is_never_a_value() {
    let mut m = miner();
    // A traceroute-like prober whose third probe was lost, and a sensor daemon's fan that gave
    // no reading: each is a message of its own, not the numbers' template.
    let probe = m.add("probe to 10.0.0.1 rtt 12 13 15 14");
    let lost = m.add("probe to 10.0.0.1 rtt 12 13 * 14");
    assert_ne!(probe.template_id, lost.template_id);
    assert_eq!(
        m.add("probe to 10.0.0.9 rtt 11 10 * 14").template_id,
        lost.template_id
    );
    assert_eq!(
        m.add("probe to 10.0.0.9 rtt 11 10 9 14").template_id,
        probe.template_id
    );
    assert_eq!(
        m.template(lost.template_id),
        Some("probe to <*> rtt <*> <*> * <*>")
    );
    let read = m.add("sensord: fan3 reading 3552 rpm at 40 C");
    let none = m.add("sensord: fan3 reading ---- rpm at 40 C");
    assert_ne!(read.template_id, none.template_id);
    // A placeholder of an empty value merges with the values it stands for: a web server's `-`
    // for a response without a body and `"-"` for no referer, an FTP daemon's `()` for a peer
    // without a name.
    let ok = m.add(r#"10.0.0.1 - - "GET /a.html HTTP/1.1" 200 512 "http://example.com/" "curl/8""#);
    let direct = m.add(r#"10.0.0.2 - - "GET /b.html HTTP/1.1" 200 731 "-" "curl/8""#);
    let cached = m.add(r#"10.0.0.3 - - "GET /c.html HTTP/1.1" 304 - "http://a.org/" "curl/8""#);
    assert_eq!(ok.template_id, direct.template_id);
    assert_eq!(ok.template_id, cached.template_id);
    let named = m.add("connection from 10.0.0.1 (host-1.example.com) at 07:07:00");
    let unnamed = m.add("connection from 10.0.0.2 () at 07:08:00");
    assert_eq!(named.template_id, unnamed.template_id);
}

#[test]
fn names_stay_values_wherever_they_stand() {
    let mut m = miner();
    // User names after `for`, `user` and `by`, before `from` and at the end; host names; a
    // package name before `to the`.
    for (a, b) in [
        (
            "session opened for alice from 10.0.0.1 port 22",
            "session opened for bob from 10.0.0.2 port 22",
        ),
        (
            "pam_unix: session closed for user alice",
            "pam_unix: session closed for user bob",
        ),
        (
            "job nightly-backup started by alice at 02:00:00",
            "job nightly-backup started by bob at 02:00:00",
        ),
        (
            "ping to gateway from host alpha took 12 ms",
            "ping to gateway from host bravo took 12 ms",
        ),
        (
            "upgraded package curl to the latest version",
            "upgraded package vim to the latest version",
        ),
    ] {
        let x = m.add(a);
        let y = m.add(b);
        assert_eq!(x.template_id, y.template_id, "{a} / {b}");
        assert!(!y.is_new, "{b}");
    }
}

#[test]
fn participles_name_events() {
    let mut m = miner();
    // A hypervisor's instance events, a switch's port states: two verbs are two messages.
    let spawned = m.add("[vm 6f1c] guest domain spawned successfully after boot");
    let destroyed = m.add("[vm 77ab] guest domain destroyed successfully after boot");
    assert_ne!(spawned.template_id, destroyed.template_id);
    assert_eq!(
        m.add("[vm 0e2d] guest domain destroyed successfully after boot")
            .template_id,
        destroyed.template_id
    );
    let enabled = m.add("switch0: port 3 link enabled by lldp agent");
    let disabled = m.add("switch0: port 7 link disabled by lldp agent");
    assert_ne!(enabled.template_id, disabled.template_id);
    // Short words in `ed` (names) and one participle against a name are values.
    let fred = m.add("mailbox quota raised for fred by the admin");
    let ted = m.add("mailbox quota raised for ted by the admin");
    assert_eq!(fred.template_id, ted.template_id);
    let x = m.add("cron job rotated by scheduler at night");
    let y = m.add("cron job rotate by scheduler at night");
    assert_eq!(x.template_id, y.template_id);
}

#[test]
fn a_word_before_an_article_is_grammar() {
    let mut m = miner();
    // A hypervisor's timings, a package manager's failures: a verb or a preposition stands
    // before `the` or `a`, never a name.
    let spawn = m.add("Took 19.05 seconds to spawn the instance on the hypervisor.");
    let destroy = m.add("Took 1.03 seconds to destroy the instance on the hypervisor.");
    assert_ne!(spawn.template_id, destroy.template_id);
    assert_eq!(
        m.add("Took 2.5 seconds to destroy the instance on the hypervisor.")
            .template_id,
        destroy.template_id
    );
    let open = m.add("dpkg: error: failed to open a lock file /var/lib/dpkg/lock");
    let lock = m.add("dpkg: error: failed to lock a lock file /var/lib/dpkg/lock");
    assert_ne!(open.template_id, lock.template_id);
}

#[test]
fn a_unit_without_a_number_names_a_dimension() {
    let mut m = miner();
    // A data engine's block manager and a rate limiter's windows: `bytes` and `seconds` with
    // no number before them are text.
    let bytes =
        m.add("Block rdd_3_1 stored as bytes in memory (estimated size 5.2 KB, free 413.9 MB)");
    let values =
        m.add("Block rdd_4_0 stored as values in memory (estimated size 1.3 KB, free 412 MB)");
    assert_ne!(bytes.template_id, values.template_id);
    assert_eq!(
        m.add("Block broadcast_7 stored as bytes in memory (estimated size 93 B, free 1.2 GB)")
            .template_id,
        bytes.template_id
    );
    let seconds = m.add("ratelimit: window in seconds for tenant acme is 60");
    let requests = m.add("ratelimit: window in requests for tenant acme is 60");
    assert_ne!(seconds.template_id, requests.template_id);
    // After a number the word is its unit, which varies with it: a value.
    let b = m.add("copied 512 bytes to the spool of printer lp0 in full");
    let k = m.add("copied 512 blocks to the spool of printer lp0 in full");
    assert_eq!(b.template_id, k.template_id);
}

#[test]
fn a_merge_elsewhere_changes_the_remembered_answer() {
    // Four tokens, three of them equal: a line joins. `L` first finds `S` (its `<*>` covers
    // the line's token); once `T` has merged into `… <*>`, both hold as many equal tokens and
    // parameters and the older, `T`, wins: the memo must not answer `S` any more.
    let mut m = TemplateMiner::new(MinerConfig {
        similarity: 0.75,
        ..MinerConfig::default()
    })
    .unwrap();
    let t = m.add("open file cache alpha").template_id;
    let s = m.add("open file 7 beta").template_id;
    assert_ne!(s, t);
    assert_eq!(m.template(s), Some("open file <*> beta"));
    let line = "open file cache beta";
    assert_eq!(m.add(line).template_id, s);
    assert_eq!(m.add(line).template_id, s, "answered from the memo");
    let merged = m.add("open file cache gamma");
    assert!(merged.template_id == t && merged.template_changed);
    assert_eq!(m.template(t), Some("open file cache <*>"));
    assert_eq!(m.add(line).template_id, t);
}

#[test]
fn an_eviction_leaves_no_answer_to_the_evicted_template() {
    let mut m = miner();
    let line = "disk sda1 almost full";
    let id = m.add(line).template_id;
    assert_eq!(m.add(line).template_id, id);
    // As `add` does after creating a template past `max_clusters`.
    assert_eq!(m.evict_lru(), Some(id));
    let again = m.add(line);
    assert!(again.is_new && again.template_id != id);
}

#[test]
fn a_new_template_changes_the_remembered_answer() {
    // Eight tokens, six of them equal: a line joins. `L` first finds `S`, whose two `<*>`
    // cover the line's tokens; the new template `N` equals `L` at seven positions and wins.
    let mut m = TemplateMiner::new(MinerConfig {
        similarity: 0.75,
        ..MinerConfig::default()
    })
    .unwrap();
    let s = m.add("open file 7 8 on disk sda 'alice'").template_id;
    let line = "open file cache log on disk sda 'alice'";
    assert_eq!(m.add(line).template_id, s);
    assert_eq!(m.add(line).template_id, s, "answered from the memo");
    let n = m.add("open file cache log on disk sda 'bob'");
    assert!(n.is_new);
    assert_eq!(m.add(line).template_id, n.template_id);
}

/// The recency list (most recent first, as `templates` lists it) follows a plain model of it
/// whatever template a line uses: the head, the tail, one between them, a new one, with
/// evictions past the bound.
#[test]
fn the_recency_order_follows_every_use() {
    let cap = 6;
    let mut m = TemplateMiner::new(MinerConfig {
        max_clusters: cap,
        ..MinerConfig::default()
    })
    .unwrap();
    // Letters only: no masking rule takes such a word for a variable.
    let line = |n: usize| format!("xq{0} then xq{0} done", letter(n));
    let mut model: Vec<u64> = Vec::new(); // ids, most recent first
    let mut next = crate::test_rng::xorshift(0x5eed_1e55);
    for step in 0..3_000 {
        let r = m.add(&line((next() % 10) as usize));
        if let Some(e) = r.evicted {
            assert_eq!(model.pop(), Some(e), "step {step}: the least recent goes");
        }
        model.retain(|&id| id != r.template_id);
        model.insert(0, r.template_id);
        let listed: Vec<u64> = m.templates().map(|t| t.id).collect();
        assert_eq!(listed, model, "step {step}");
    }
    assert!(m.evictions() > 100, "{} evictions", m.evictions());
    assert_eq!(m.len(), cap);
}

// A template's text must be true of every line it holds (see `cover`).

/// An access log's user agents: each masks to a variable that keeps its name.
const USER_AGENTS: [&str; 3] = [
    r#"10.31.160.15 - - [02/Nov/2026:18:30:32 +0000] "GET /api/v1/search?q=item28535 HTTP/1.1" 502 139231 "-" "curl/8.5.0" 0.057"#,
    r#"10.21.177.137 - - [14/Nov/2026:21:23:04 +0000] "GET /api/v1/orders/91383 HTTP/1.1" 200 132634 "-" "kube-probe/1.29" 0.013"#,
    r#"10.122.88.142 - - [03/Nov/2026:05:00:26 +0000] "GET /api/v1/search?q=item86564 HTTP/1.1" 200 118096 "-" "Go-http-client/1.1" 0.291"#,
];

#[test]
fn a_variable_that_does_not_cover_the_line_widens() {
    for (config, agent) in [
        // `"<*>/<*>"` in the whole-token form: joined, and bare in its quotes.
        (MinerConfig::default(), "<*>"),
        // `"curl/<*>.<*>.<*>"` and `"kube-probe/<*>.<*>"` share `.<*>"`.
        (parts(), r#""<*>.<*>""#),
    ] {
        let mut m = TemplateMiner::new(config.clone()).unwrap();
        let first = m.add(USER_AGENTS[0]);
        let kube = m.add(USER_AGENTS[1]);
        assert_eq!(kube.template_id, first.template_id);
        assert!(kube.template_changed, "{config:?}");
        let template = m.template(first.template_id).unwrap().to_owned();
        let tokens: Vec<&str> = template.split(' ').collect();
        assert_eq!(tokens[tokens.len() - 2], agent, "{template}");
        let go = m.add(USER_AGENTS[2]);
        assert_eq!(go.template_id, first.template_id);
        assert!(!go.template_changed, "{template}");
        assert_eq!(m.template(first.template_id), Some(template.as_str()));
    }
}

#[test]
fn a_bare_variable_covers_any_token_without_a_merge() {
    for config in [MinerConfig::default(), parts()] {
        let mut m = TemplateMiner::new(config).unwrap();
        let id = m
            .add("job done for alpha in 5 ms on the second try")
            .template_id;
        assert!(
            m.add("job done for beta in 7 ms on the second try")
                .template_changed
        );
        assert_eq!(m.merges, 1);
        for name in ["gamma", "delta", "epsilon", "zeta", "eta", "theta"] {
            let r = m.add(&format!("job done for {name} in 9 ms on the second try"));
            assert_eq!((r.template_id, r.template_changed), (id, false));
        }
        assert_eq!(m.merges, 1, "a bare <*> changes for no token");
        assert_eq!(
            m.template(id),
            Some("job done for <*> in <*> ms on the second try")
        );
    }
}

#[test]
fn a_token_found_covered_is_not_merged_again() {
    for config in [MinerConfig::default(), parts()] {
        for use_recall in [true, false] {
            let mut m = TemplateMiner::new(config.clone()).unwrap();
            m.use_recall = use_recall;
            let line =
                |host: &str| format!("authentication failure; ruser= rhost={host} user=root");
            let id = m.add(&line("dbhost")).template_id;
            assert!(m.add(&line("10.1.2.3")).template_changed);
            let template = "authentication failure; ruser= rhost=<*> user=root";
            assert_eq!(m.template(id), Some(template));
            let merges = m.merges;
            // `rhost=<*>` covers these (in the finer form `rhost=<*>.<*>.<*>.<*>` too, which is
            // no longer the template's token): each pair is looked at once, then known.
            for _ in 0..10 {
                for host in ["alpha", "beta", "10.1.2.9", "dbhost"] {
                    let r = m.add(&line(host));
                    assert_eq!((r.template_id, r.template_changed), (id, false));
                }
            }
            assert!(m.merges <= merges + 4, "{} merges", m.merges - merges);
            assert_eq!(m.template(id), Some(template));
        }
    }
}

/// Every live template covers, at each position, the masked token of every line it took.
fn assert_templates_cover_their_lines<'a>(
    config: &MinerConfig,
    lines: impl IntoIterator<Item = &'a str>,
    what: &str,
) {
    let mut m = TemplateMiner::new(config.clone()).unwrap();
    let (mut text, mut spans) = (String::new(), Vec::new());
    let mut held = Vec::new();
    for line in lines {
        let id = m.add(line).template_id;
        mask_line(
            line,
            config.max_tokens,
            config.variables,
            &mut text,
            &mut spans,
        );
        let tokens: Vec<String> = spans
            .iter()
            .map(|&(s, e)| text[s as usize..e as usize].to_owned())
            .collect();
        held.push((id, line, tokens));
    }
    for (id, line, tokens) in held {
        let Some(c) = m.cluster_by_id(id) else {
            continue; // evicted
        };
        for (t, l) in c.tokens.iter().zip(&tokens) {
            assert!(
                covers(t, l),
                "{what}: {:?} does not cover {line:?}",
                c.template
            );
        }
    }
}

#[test]
fn templates_are_true_of_every_line_they_hold() {
    for config in [MinerConfig::default(), parts()] {
        for seed in 0..4 {
            let lines = stress_lines(seed, 3_000);
            let what = format!("{:?}, seed {seed}", config.variables);
            assert_templates_cover_their_lines(&config, lines.iter().map(String::as_str), &what);
        }
        assert_templates_cover_their_lines(&config, USER_AGENTS, "user agents");
    }
    let Some(samples) = loghub_samples() else {
        return;
    };
    for (name, format, lines) in &samples {
        let contents: Vec<&str> = lines
            .iter()
            .map(|l| format.split(l).map_or(l.as_str(), |f| f.content()))
            .collect();
        for config in [MinerConfig::default(), parts()] {
            assert_templates_cover_their_lines(&config, contents.iter().copied(), name);
        }
    }
}

#[test]
fn a_merged_token_covers_both_tokens() {
    const PIECES: &[&str] = &[
        "<*>", "a", "b", "Z", ".", ":", "/", "=", "\"", "(", ")", "_", "-", ",", "k",
    ];
    let mut next = crate::test_rng::xorshift(0x9e37_79b9_7f4a_7c15_u64);
    let mut token = || -> String {
        let n = 1 + next() % 6;
        (0..n)
            .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
            .collect()
    };
    for _ in 0..50_000 {
        let (a, b) = (token(), token());
        for whole in [false, true] {
            let form = |t: &str| {
                let mut s = String::new();
                if whole {
                    collapse(t, |x| s.push_str(x));
                } else {
                    s.push_str(t);
                }
                s
            };
            let (a, b) = (form(&a), form(&b));
            let merged = form(&merge_token(&a, &b));
            assert!(
                covers(&merged, &a) && covers(&merged, &b),
                "{a:?} {b:?}: {merged:?}"
            );
        }
    }
}

#[test]
fn positions_past_the_63rd_are_covered_and_widened_alike() {
    // 70 tokens: the positions from 63 on share one bit of the search's set (see `open_bit`).
    let line = |at: usize, token: &str| {
        let mut t: Vec<String> = (0..70).map(|k| format!("w{}", letter(k))).collect();
        t[at] = token.to_owned();
        t[68] = token.to_owned();
        t.join(" ")
    };
    for at in [5, 66] {
        let mut m = miner();
        let id = m.add(&line(at, "rhost=dbhost")).template_id;
        assert!(m.add(&line(at, "rhost=10.1.2.3")).template_changed);
        let merges = m.merges;
        for _ in 0..5 {
            for host in ["alpha", "beta"] {
                let r = m.add(&line(at, &format!("rhost={host}")));
                assert_eq!((r.template_id, r.template_changed), (id, false), "{at}");
            }
        }
        assert!(m.merges <= merges + 2, "{at}: {} merges", m.merges - merges);
        let widened = m.add(&line(at, "ruser=alpha"));
        assert!(widened.template_changed, "{at}");
        let template = m.template(id).unwrap().to_owned();
        let tokens: Vec<&str> = template.split(' ').collect();
        assert_eq!((tokens[at], tokens[68]), ("<*>", "<*>"), "{at}");
    }
}
