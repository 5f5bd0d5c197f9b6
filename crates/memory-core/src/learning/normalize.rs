//! Error-message normalisation: many concrete errors, one class.
//!
//! "timeout after 30s at src/a.rs:12" and "timeout after 45s at src/b.rs:99" are the same
//! problem; what tells them apart (numbers, hex ids, paths, quoted literals, line and column)
//! is stripped so that recoveries learned from one apply to the other.

/// Longest error class kept, in characters.
const MAX_CLASS_CHARS: usize = 120;

/// The class of an error message: lower-cased, with quoted literals replaced by `<str>`,
/// paths by `<path>`, hex and uuid-like ids by `<id>`, and digit runs by `<n>`.
pub fn error_class(message: &str) -> String {
    let unquoted = strip_quoted(message.trim());
    let mut words: Vec<String> = Vec::new();
    for raw in unquoted.split_whitespace() {
        let (lead, core, trail) = split_punct(raw);
        let word = if core.is_empty() {
            String::new()
        } else if is_path(core) {
            "<path>".to_string()
        } else if is_id(core) {
            "<id>".to_string()
        } else {
            replace_digits(&core.to_lowercase())
        };
        let word = format!("{lead}{word}{trail}");
        if !word.is_empty() && words.last() != Some(&word) {
            words.push(word);
        }
    }
    let class = words.join(" ");
    if class.chars().count() > MAX_CLASS_CHARS {
        class.chars().take(MAX_CLASS_CHARS).collect()
    } else {
        class
    }
}

/// Replaces text between matching quotes ('…', "…", `…`) with `<str>`.
fn strip_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if matches!(c, '\'' | '"' | '`') {
            // An apostrophe inside a word (don't, it's) is not a quote.
            let prev_alnum = s[..i]
                .chars()
                .next_back()
                .is_some_and(char::is_alphanumeric);
            if c == '\'' && prev_alnum {
                out.push(c);
                continue;
            }
            if let Some(close) = s[i + 1..].find(c) {
                out.push_str("<str>");
                let end = i + 1 + close;
                while chars.peek().is_some_and(|&(j, _)| j <= end) {
                    chars.next();
                }
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// Splits surrounding brackets and punctuation off a word: `(0xbeef),` → `(`, `0xbeef`, `),`.
fn split_punct(word: &str) -> (&str, &str, &str) {
    let inner = word.trim_start_matches(['(', '[', '{']);
    let lead = &word[..word.len() - inner.len()];
    let core = inner.trim_end_matches([',', ';', '.', ')', ']', '}']);
    (lead, core, &inner[core.len()..])
}

fn is_path(w: &str) -> bool {
    if w.contains('/') || w.contains('\\') {
        return w.chars().any(char::is_alphanumeric);
    }
    // file.ext or file.ext:12:5
    let base = w.split(':').next().unwrap_or("");
    match base.rsplit_once('.') {
        Some((stem, ext)) => {
            !stem.is_empty()
                && (1..=5).contains(&ext.len())
                && ext.chars().all(|c| c.is_ascii_alphabetic())
                && w.len() > base.len()
                && w[base.len()..]
                    .split(':')
                    .skip(1)
                    .all(|p| p.chars().all(|c| c.is_ascii_digit()))
        }
        None => false,
    }
}

fn is_id(word: &str) -> bool {
    let w = word.trim_start_matches('#');
    if let Some(hex) = w.strip_prefix("0x") {
        return !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit());
    }
    let hexish: String = w.chars().filter(|c| *c != '-').collect();
    hexish.len() >= 8
        && hexish.chars().all(|c| c.is_ascii_hexdigit())
        && hexish.chars().any(|c| c.is_ascii_digit())
}

fn replace_digits(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let mut in_digits = false;
    for c in word.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push_str("<n>");
                in_digits = true;
            }
        } else {
            in_digits = false;
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_problem_same_class() {
        let a = error_class("timeout after 30s at src/a.rs:12");
        let b = error_class("timeout after 45s at src/b.rs:99");
        assert_eq!(a, b);
        assert_eq!(a, "timeout after <n>s at <path>");
    }

    #[test]
    fn strips_literals_ids_lines_and_numbers() {
        assert_eq!(
            error_class("KeyError: 'customer_id' in transform_orders"),
            "keyerror: <str> in transform_orders"
        );
        assert_eq!(
            error_class("object 3f2a9c1d-77aa-4b1e-9f00-0a1b2c3d4e5f not found (0xdeadbeef)"),
            "object <id> not found (<id>)"
        );
        assert_eq!(
            error_class("error[E0382]: borrow of moved value at main.rs:14:9"),
            "error[e<n>]: borrow of moved value at <path>"
        );
        assert_eq!(
            error_class("MemoryError: Unable to allocate 7.45 GiB"),
            "memoryerror: unable to allocate <n>.<n> gib"
        );
        assert_eq!(error_class("it's   broken"), "it's broken");
        assert_eq!(
            error_class("Error: Unsupported argument \"storage_encrypted\" at C:\\tf\\main.tf"),
            "error: unsupported argument <str> at <path>"
        );
    }

    #[test]
    fn long_messages_are_cut() {
        assert!(error_class(&"word ".repeat(100)).chars().count() <= MAX_CLASS_CHARS);
    }
}
