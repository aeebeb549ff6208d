//! The doctor's verdicts and how they are printed: a table for people, JSON
//! for CI. Check ids are stable; scripts and tests match on them.

use serde::Serialize;

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Alexa will be satisfied.
    Pass,
    /// Works today, but is fragile or about to break.
    Warn,
    /// Alexa will fail to link (or to refresh).
    Fail,
    /// Not checked: a prerequisite is missing (no credentials, an earlier failure).
    Skip,
}

impl Verdict {
    fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Warn => "WARN",
            Verdict::Fail => "FAIL",
            Verdict::Skip => "SKIP",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Stable id, e.g. `tls.chain`.
    pub id: &'static str,
    /// The verdict.
    pub verdict: Verdict,
    /// What was seen, in a sentence.
    pub detail: String,
    /// What to change, when the verdict is not a pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    /// A passed check.
    pub fn pass(id: &'static str, detail: impl Into<String>) -> Check {
        Check {
            id,
            verdict: Verdict::Pass,
            detail: detail.into(),
            fix: None,
        }
    }

    /// A warning, with its fix.
    pub fn warn(id: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            id,
            verdict: Verdict::Warn,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    /// A failure, with its fix.
    pub fn fail(id: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            id,
            verdict: Verdict::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    /// A check that could not run, and why.
    pub fn skip(id: &'static str, detail: impl Into<String>) -> Check {
        Check {
            id,
            verdict: Verdict::Skip,
            detail: detail.into(),
            fix: None,
        }
    }
}

/// Every check of one doctor run.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The public URL that was checked.
    pub url: String,
    /// No check failed.
    pub ok: bool,
    /// In the order they ran.
    pub checks: Vec<Check>,
}

impl Report {
    /// A report over `checks`.
    pub fn new(url: impl Into<String>, checks: Vec<Check>) -> Report {
        let ok = !checks.iter().any(|c| c.verdict == Verdict::Fail);
        Report {
            url: url.into(),
            ok,
            checks,
        }
    }

    /// The check with `id`, if it ran.
    pub fn get(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// How many checks had `verdict`.
    pub fn count(&self, verdict: Verdict) -> usize {
        self.checks.iter().filter(|c| c.verdict == verdict).count()
    }

    /// The report as one JSON document.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// The report as a table for a terminal.
    pub fn to_table(&self) -> String {
        let width = self.checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
        let mut out = format!("alexa-link doctor: {}\n\n", self.url);
        for c in &self.checks {
            out.push_str(&format!(
                "  {}  {:width$}  {}\n",
                c.verdict.label(),
                c.id,
                c.detail
            ));
            if let Some(fix) = &c.fix {
                out.push_str(&format!("        {:width$}  fix: {fix}\n", ""));
            }
        }
        out.push_str(&format!(
            "\n{} passed, {} warnings, {} failed, {} skipped: {}\n",
            self.count(Verdict::Pass),
            self.count(Verdict::Warn),
            self.count(Verdict::Fail),
            self.count(Verdict::Skip),
            if self.ok {
                "Alexa should be able to link"
            } else {
                "Alexa will not link until the failures are fixed"
            }
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_makes_the_report_not_ok_and_shows_its_fix() {
        let report = Report::new(
            "https://link.example.com",
            vec![
                Check::pass("tls.port", "port 443"),
                Check::fail("tls.chain", "incomplete chain", "serve the full chain"),
                Check::warn("tls.expiry", "expires in 12 days", "renew"),
            ],
        );
        assert!(!report.ok);
        let table = report.to_table();
        assert!(table.contains("FAIL  tls.chain"), "{table}");
        assert!(table.contains("fix: serve the full chain"), "{table}");
        assert!(
            table.contains("1 passed, 1 warnings, 1 failed, 0 skipped"),
            "{table}"
        );
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("json");
        assert_eq!(json["ok"], false);
        assert_eq!(json["checks"][1]["verdict"], "fail");
        assert_eq!(json["checks"][0].get("fix"), None);
    }

    #[test]
    fn warnings_alone_keep_the_report_ok() {
        let report = Report::new("u", vec![Check::warn("tls.expiry", "soon", "renew")]);
        assert!(report.ok);
    }
}
