//! Short excerpts of untrusted text for error messages and logs, so a 200 KB request or line
//! is never echoed whole. A leaf: imports nothing of the agent.

/// Characters quoted at most.
pub const EXCERPT_CHARS: usize = 64;

/// At most [`EXCERPT_CHARS`] characters of `text`, with `…` when cut.
pub fn excerpt(text: &str) -> String {
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cuts_long_text_at_a_character() {
        assert_eq!(super::excerpt("abc"), "abc");
        let cut = super::excerpt(&"é".repeat(100));
        assert_eq!(cut.chars().count(), super::EXCERPT_CHARS + 1);
        assert!(cut.ends_with('…'));
    }
}
