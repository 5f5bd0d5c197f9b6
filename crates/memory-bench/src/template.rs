//! Filling the text templates the generators draw from.

use crate::rng::Rng;

/// Replaces `{subject}`, `{file}`, `{line}` (1–400) and `{n}` (2–250) in `template`; any
/// other brace is kept as it is (templates quote JSON and shell snippets).
pub(crate) fn fill(template: &str, subject: &str, file: &str, rng: &mut Rng) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open..];
        let placeholder = ["{subject}", "{file}", "{line}", "{n}"]
            .into_iter()
            .find(|p| after.starts_with(p));
        match placeholder {
            Some(p) => {
                match p {
                    "{subject}" => out.push_str(subject),
                    "{file}" => out.push_str(file),
                    "{line}" => out.push_str(&rng.range(1, 400).to_string()),
                    _ => out.push_str(&rng.range(2, 250).to_string()),
                }
                rest = &after[p.len()..];
            }
            None => {
                out.push('{');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_placeholders_and_keeps_other_braces() {
        let mut rng = Rng(1);
        let s = fill(
            r#"{"path": "{file}", "for": "{subject}"} {x"#,
            "orders",
            "src/a.rs",
            &mut rng,
        );
        assert_eq!(s, r#"{"path": "src/a.rs", "for": "orders"} {x"#);
        assert!(fill("line {line}", "s", "f", &mut rng).starts_with("line "));
    }
}
