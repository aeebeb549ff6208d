//! Reading our own login and consent forms, as a browser would submit them.

/// The value of the hidden input `name` in `html`, unescaped.
pub fn hidden_field(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = start + html[start..].find('"')?;
    Some(unescape_html(&html[start..end]))
}

/// Decodes the character references an HTML escaper produces: named
/// (`&amp;`), decimal (`&#38;`) and hexadecimal (`&#x26;`).
fn unescape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';') else { break };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::hidden_field;

    #[test]
    fn hidden_fields_are_found_and_unescaped() {
        let html = r#"<input type="hidden" name="request" value="a=1&amp;b=&#x27;2&#39;"><input name="csrf" value="n">"#;
        assert_eq!(hidden_field(html, "request").as_deref(), Some("a=1&b='2'"));
        assert_eq!(hidden_field(html, "csrf").as_deref(), Some("n"));
        assert_eq!(hidden_field(html, "missing"), None);
    }
}
