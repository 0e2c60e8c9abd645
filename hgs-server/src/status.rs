//! `GET /status`: a small read-only HTML page for operators (hosts, last verdict and why, token
//! expiry), and its login page. Every value is HTML-escaped; the pages have no script; the only
//! form is the login's (a password field posted to `/login`) and the status page's log-out.

use std::fmt::Write;

use hgs_attest::policy::TpmHost;

use crate::store::VerdictRecord;

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
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

/// The key protection service's part of the page: names, versions, fingerprints and counts,
/// never a value.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeySummary {
    /// Secrets (name, version).
    pub(crate) secrets: Vec<(String, u64)>,
    /// Guardians (name, fingerprint).
    pub(crate) guardians: Vec<(String, String)>,
    /// The issued-before cut-off.
    pub(crate) deny_issued_before: Option<u64>,
    /// Releases and refusals in the last hour: (outcome, reason, count).
    pub(crate) last_hour: Vec<(String, String, u64)>,
}

fn key_section(k: &KeySummary) -> String {
    let mut out = String::from("<h2>Key protection</h2>\n");
    let names: Vec<String> = k
        .secrets
        .iter()
        .map(|(n, v)| format!("{} (v{v})", escape(n)))
        .collect();
    let _ = writeln!(
        out,
        "<p id=\"secrets\">{} secret(s): {}</p>",
        k.secrets.len(),
        names.join(", ")
    );
    let guardians: Vec<String> = k
        .guardians
        .iter()
        .map(|(n, f)| format!("{} ({})", escape(n), escape(f)))
        .collect();
    let _ = writeln!(
        out,
        "<p id=\"guardians\">{} guardian(s): {}</p>",
        k.guardians.len(),
        guardians.join(", ")
    );
    let _ = writeln!(
        out,
        "<p id=\"cutoff\">Tokens issued before: {}</p>",
        k.deny_issued_before
            .map_or_else(|| "no cut-off".to_owned(), |b| b.to_string())
    );
    out.push_str("<table id=\"releases\"><thead><tr><th>Outcome (last hour)</th><th>Reason</th><th>Count</th></tr></thead><tbody>\n");
    for (o, r, n) in &k.last_hour {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{n}</td></tr>",
            escape(o),
            escape(r)
        );
    }
    out.push_str("</tbody></table>\n");
    out
}

/// The page at `now`.
pub(crate) fn page(
    hosts: &[TpmHost],
    verdicts: &[VerdictRecord],
    keys: &KeySummary,
    now: u64,
) -> String {
    let mut rows = String::new();
    for h in hosts {
        let v = verdicts.iter().find(|v| v.host == h.name);
        let (status, when, why, token) = match v {
            None => (
                "never attested".to_owned(),
                String::new(),
                String::new(),
                String::new(),
            ),
            Some(v) => (
                v.status.clone(),
                format!("{} s ago", now.saturating_sub(v.at)),
                v.reason.clone(),
                match v.token_expires_at {
                    None => "no token".to_owned(),
                    Some(exp) if exp <= now => format!("Expired ({} s ago)", now - exp),
                    Some(exp) => format!("valid for {} s", exp - now),
                },
            ),
        };
        let _ = writeln!(
            rows,
            "<tr><td class=\"host\">{}</td><td>{}</td><td class=\"status\">{}</td><td>{}</td>\
             <td class=\"why\">{}</td><td class=\"token\">{}</td></tr>",
            escape(&h.name),
            escape(h.policy_version.name()),
            escape(&status),
            escape(&when),
            escape(&why).replace('\n', "<br>"),
            escape(&token),
        );
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <title>hgs-server status</title>\
         <style>body{{font-family:sans-serif}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #999;padding:4px;vertical-align:top}}</style></head>\n\
         <body><h1>hgs-server status</h1><p>{} registered host(s)</p>\n\
         <table id=\"hosts\"><thead><tr><th>Host</th><th>Version</th><th>Last verdict</th>\
         <th>When</th><th>Why</th><th>Token</th></tr></thead><tbody>\n{rows}</tbody></table>\
         {}<form method=\"post\" action=\"/logout\"><button type=\"submit\">Log out</button></form>\
         </body></html>\n",
        hosts.len(),
        key_section(keys)
    )
}

/// The login page: `/status` needs the admin or the operator token; `wrong` after a refusal.
pub(crate) fn login_page(wrong: bool) -> String {
    let note = if wrong {
        "<p id=\"refused\">That token is neither the admin nor the operator token.</p>"
    } else {
        ""
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; form-action 'self'\">\
         <title>hgs-server status: log in</title></head>\n\
         <body><h1>hgs-server status</h1>{note}\
         <form method=\"post\" action=\"/login\"><label>Admin or operator token \
         <input id=\"token\" type=\"password\" name=\"token\" autocomplete=\"current-password\"></label> \
         <button id=\"login\" type=\"submit\">Log in</button></form></body></html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_a_failure_reason_is_shown_as_text() {
        let reason = "event data <script>alert(1)</script>\n\"quoted\" & 'single'";
        assert_eq!(
            escape(reason),
            "event data &lt;script&gt;alert(1)&lt;/script&gt;\n&quot;quoted&quot; &amp; &#39;single&#39;"
        );
    }

    #[test]
    fn the_login_page_posts_the_token_to_login_and_names_a_refusal() {
        assert!(login_page(false).contains("action=\"/login\""));
        assert!(!login_page(false).contains("refused"));
        assert!(login_page(true).contains("id=\"refused\""));
    }
}
