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

/// The sign-in page, with `error` (static text) shown above the form.
pub fn login_page(error: Option<&'static str>) -> String {
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{e}</p>"))
        .unwrap_or_default();
    LOGIN_HTML.replace("{error}", &error)
}
