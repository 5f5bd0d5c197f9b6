//! The dashboard's files, embedded in the binary: one HTML page, its stylesheet and its
//! script (no framework, no build step, nothing fetched from elsewhere).

/// The single page (`/`).
pub const INDEX_HTML: &str = include_str!("assets/index.html");
/// The page's script (`/ui/app.js`).
pub const APP_JS: &str = include_str!("assets/app.js");
/// The stylesheet (`/ui/app.css`).
pub const APP_CSS: &str = include_str!("assets/app.css");
/// The sign-in page's template (`/login`); `{error}` is replaced.
const LOGIN_HTML: &str = include_str!("assets/login.html");

/// The asset at `path` (under `/ui/`) and its content type.
pub fn find(path: &str) -> Option<(&'static str, &'static str)> {
    match path {
        "/ui/app.js" => Some(("text/javascript; charset=utf-8", APP_JS)),
        "/ui/app.css" => Some(("text/css; charset=utf-8", APP_CSS)),
        _ => None,
    }
}

/// The sign-in page, with `error` (plain text, escaped here) shown above the form.
pub fn login_page(error: Option<&str>) -> String {
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape_html(e)))
        .unwrap_or_default();
    LOGIN_HTML.replace("{error}", &error)
}

/// `text` with the characters HTML gives a meaning escaped.
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sign_in_error_is_escaped() {
        let page = login_page(Some("<b>wrong</b> & \"late\""));
        assert!(page.contains("&lt;b&gt;wrong&lt;/b&gt; &amp; &quot;late&quot;"));
        assert!(!page.contains("{error}"));
        assert!(!login_page(None).contains("role=\"alert\""));
    }
}
