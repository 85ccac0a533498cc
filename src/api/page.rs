//! The hosted pages: `/join` (works without JavaScript) and the small
//! message page every browser-facing answer uses.

pub const JOIN_HTML: &str = include_str!("../../assets/join.html");
pub const STYLE_CSS: &str = include_str!("../../assets/style.css");

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
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

pub fn message(title: &str, text: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<link rel=\"stylesheet\" href=\"/assets/style.css\">\n</head>\n<body>\n<main>\n<h1>{title}</h1>\n\
         <p class=\"message\">{text}</p>\n<p class=\"muted\"><a href=\"/join\">Back</a></p>\n</main>\n</body>\n</html>\n",
        title = escape(title),
        text = escape(text)
    )
}

/// The page a confirmation link opens: one button that POSTs the link
/// back. Opening it (a person, or a mail scanner fetching every link)
/// changes nothing; only the button confirms.
pub fn confirm_form(token: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n<title>Confirm your place</title>\n<link rel=\"stylesheet\" href=\"/assets/style.css\">\n</head>\n<body>\n<main>\n\
         <h1>Confirm your place</h1>\n<p class=\"lead\">One last step: confirm that this is your address and your place on the waitlist is kept.</p>\n\
         <form method=\"post\" action=\"/v1/confirm/{token}\">\n  <button type=\"submit\">Confirm my place</button>\n</form>\n</main>\n</body>\n</html>\n",
        token = escape(token)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_escape_what_they_echo() {
        let page = message("Hi", "<script>alert(1)</script> & \"x\"");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;"));
        assert!(!page.contains("<script>"));
        assert!(JOIN_HTML.contains("action=\"/v1/waitlist\"") && JOIN_HTML.contains("action=\"/v1/redeem\""));
        let form = confirm_form("ab\"><script>");
        assert!(
            form.contains("<form method=\"post\" action=\"/v1/confirm/ab&quot;&gt;&lt;script&gt;\">")
                && !form.contains("<script>")
        );
        assert_eq!(form.matches("<button").count(), 1);
    }
}
