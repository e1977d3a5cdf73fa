//! CI rules: limits from flags and from dive's `.dive-ci`, checked against one analysis.
//!
//! Each rule is a small value with a name, a limit and where the limit came from; evaluation
//! gives PASS, FAIL or SKIP per rule. Flags override the file; with neither, dive's defaults
//! apply (lowest efficiency 0.9, highest user waste 10 %).

use super::text::waste_line;
use super::{exact, human, percent};
use crate::model::Analysis;
use crate::model::leftovers::hint_of;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;

/// A waste limit: bytes, or a share of the stored bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WasteLimit {
    Bytes(u64),
    Percent(f64),
}

/// A limit and where it came from (`--max-waste`, `.dive-ci`, `default`).
#[derive(Debug, Clone, PartialEq)]
pub struct Limit<T> {
    pub value: T,
    pub origin: String,
}

/// One rule's setting.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Setting<T> {
    #[default]
    Unset,
    /// Turned off (`disabled` in `.dive-ci`).
    Disabled(String),
    Set(Limit<T>),
}

impl<T> Setting<T> {
    fn set(value: T, origin: &str) -> Self {
        Setting::Set(Limit {
            value,
            origin: origin.into(),
        })
    }
    fn is_unset(&self) -> bool {
        matches!(self, Setting::Unset)
    }
    /// `self` unless unset, else `other`.
    fn or(self, other: Setting<T>) -> Setting<T> {
        if self.is_unset() { other } else { self }
    }
}

/// Every rule dsize knows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rules {
    pub max_waste: Setting<WasteLimit>,
    /// visible / stored, 0..=1.
    pub min_efficiency: Setting<f64>,
    /// Percent, 0..=100.
    pub max_user_waste: Setting<f64>,
    pub max_leftovers: Setting<u64>,
    /// Stored bytes.
    pub max_size: Setting<u64>,
}

impl Rules {
    /// Flags first, then the file, then dive's defaults when nothing at all was configured.
    pub fn merge(flags: Rules, file: Rules) -> Rules {
        let mut r = Rules {
            max_waste: flags.max_waste.or(file.max_waste),
            min_efficiency: flags.min_efficiency.or(file.min_efficiency),
            max_user_waste: flags.max_user_waste.or(file.max_user_waste),
            max_leftovers: flags.max_leftovers.or(file.max_leftovers),
            max_size: flags.max_size.or(file.max_size),
        };
        let nothing = r.max_waste.is_unset()
            && r.min_efficiency.is_unset()
            && r.max_user_waste.is_unset()
            && r.max_leftovers.is_unset()
            && r.max_size.is_unset();
        if nothing {
            r.min_efficiency = Setting::set(0.9, "default");
            r.max_user_waste = Setting::set(10.0, "default");
        }
        r
    }
}

/// Parses a size: `20MB` (decimal), `20MiB` (binary), `1.5GB`, `20 MB` or plain bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    parse_size::parse_size(s.trim())
        .map_err(|_| format!("{s:?} is not a size; use e.g. 20MB, 20MiB, 1.5GB or plain bytes"))
}

/// Parses `--max-waste`: a size, or a percentage of the stored bytes (`5%`).
pub fn parse_waste(s: &str) -> Result<WasteLimit, String> {
    match s.trim().strip_suffix('%') {
        Some(p) => parse_percent_number(p).map(WasteLimit::Percent),
        None => parse_size(s).map(WasteLimit::Bytes),
    }
}

fn parse_percent_number(p: &str) -> Result<f64, String> {
    let v: f64 = p
        .trim()
        .parse()
        .map_err(|_| format!("{p:?} is not a percentage"))?;
    if !(0.0..=100.0).contains(&v) {
        return Err(format!("{v}% is outside 0%..100%"));
    }
    Ok(v)
}

/// Parses a percentage: `10%`, or a fraction `0.1` as dive writes it.
pub fn parse_percent(s: &str) -> Result<f64, String> {
    if let Some(p) = s.trim().strip_suffix('%') {
        return parse_percent_number(p);
    }
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a percentage; use e.g. 10% or 0.1"))?;
    if !(0.0..=1.0).contains(&v) {
        return Err(format!(
            "{s:?}: a bare number is a fraction from 0 to 1 (as in .dive-ci); write {v}% for a percentage"
        ));
    }
    Ok(v * 100.0)
}

/// Parses an efficiency: a fraction `0.9` or `90%`.
pub fn parse_fraction(s: &str) -> Result<f64, String> {
    parse_percent(s).map(|p| p / 100.0)
}

/// Reads dive's `.dive-ci` (YAML): `rules.lowestEfficiency`, `rules.highestWastedBytes`,
/// `rules.highestUserWastedPercent`, camelCase or snake_case, each possibly `disabled`.
pub fn load_dive_ci(path: &Path) -> Result<Rules, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_dive_ci(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses the text of a `.dive-ci` file.
pub fn parse_dive_ci(text: &str) -> Result<Rules, String> {
    let origin = ".dive-ci";
    let doc: serde_norway::Value =
        serde_norway::from_str(text).map_err(|e| format!("not valid YAML: {e}"))?;
    let mut rules = Rules::default();
    let Some(map) = doc.get("rules").and_then(|r| r.as_mapping()) else {
        return Ok(rules);
    };
    for (k, v) in map {
        let Some(key) = k.as_str() else { continue };
        let norm: String = key
            .chars()
            .filter(|c| *c != '_' && *c != '-')
            .collect::<String>()
            .to_ascii_lowercase();
        let text = match v {
            serde_norway::Value::String(s) => s.trim().to_string(),
            serde_norway::Value::Number(n) => n.to_string(),
            serde_norway::Value::Bool(false) | serde_norway::Value::Null => "disabled".into(),
            other => return Err(format!("rules.{key}: unexpected value {other:?}")),
        };
        let disabled = text.eq_ignore_ascii_case("disabled") || text.eq_ignore_ascii_case("off");
        let bad = |e: String| format!("rules.{key}: {e}");
        match norm.as_str() {
            "lowestefficiency" => {
                rules.min_efficiency = if disabled {
                    Setting::Disabled(origin.into())
                } else {
                    let v: f64 = text
                        .parse()
                        .map_err(|_| bad(format!("{text:?} is not a number from 0 to 1")))?;
                    Setting::set(v, origin)
                }
            }
            "highestwastedbytes" => {
                rules.max_waste = if disabled {
                    Setting::Disabled(origin.into())
                } else {
                    Setting::set(WasteLimit::Bytes(parse_size(&text).map_err(bad)?), origin)
                }
            }
            "highestuserwastedpercent" => {
                rules.max_user_waste = if disabled {
                    Setting::Disabled(origin.into())
                } else {
                    let v: f64 = text
                        .parse()
                        .map_err(|_| bad(format!("{text:?} is not a number from 0 to 1")))?;
                    Setting::set(v * 100.0, origin)
                }
            }
            _ => {
                return Err(format!(
                    "unknown rule {key:?} (dive knows lowestEfficiency, highestWastedBytes, highestUserWastedPercent)"
                ));
            }
        }
    }
    Ok(rules)
}

/// PASS, FAIL or SKIP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Pass,
    Fail,
    Skip,
}

/// One rule's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleResult {
    pub name: String,
    pub status: Status,
    /// The measured value, as a number (bytes, fraction or percent, per rule).
    pub value: f64,
    pub limit: Option<f64>,
    /// Where the limit came from.
    pub origin: Option<String>,
    /// The line as printed.
    pub message: String,
}

/// All results; `pass` when no rule failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CiOutcome {
    pub pass: bool,
    pub rules: Vec<RuleResult>,
}

/// Checks every rule against the analysis.
pub fn evaluate(a: &Analysis, rules: &Rules) -> CiOutcome {
    let t = &a.totals;
    let mut out = Vec::new();
    let waste_pct = if t.stored_bytes == 0 {
        0.0
    } else {
        t.wasted_bytes as f64 * 100.0 / t.stored_bytes as f64
    };
    let measured_waste = format!(
        "{} wasted ({} B, {} of stored)",
        human(t.wasted_bytes),
        exact(t.wasted_bytes),
        percent(waste_pct)
    );
    out.push(check(
        "max-waste",
        &rules.max_waste,
        t.wasted_bytes as f64,
        &measured_waste,
        |l| match l {
            WasteLimit::Bytes(b) => (
                t.wasted_bytes <= *b,
                *b as f64,
                format!("at most {} ({} B)", human(*b), exact(*b)),
            ),
            WasteLimit::Percent(p) => (waste_pct <= *p, *p, format!("at most {} of stored", percent(*p))),
        },
    ));
    out.push(check(
        "min-efficiency",
        &rules.min_efficiency,
        t.efficiency,
        &format!("efficiency {:.4}", t.efficiency),
        |l| (t.efficiency >= *l, *l, format!("at least {l:.4}")),
    ));
    out.push(check(
        "max-user-waste",
        &rules.max_user_waste,
        t.user_wasted_percent,
        &format!(
            "user waste {} ({} B)",
            percent(t.user_wasted_percent),
            exact(t.user_wasted_bytes)
        ),
        |l| {
            (
                t.user_wasted_percent <= *l,
                *l,
                format!("at most {}", percent(*l)),
            )
        },
    ));
    out.push(check(
        "max-leftovers",
        &rules.max_leftovers,
        t.leftover_bytes as f64,
        &format!(
            "leftovers {} ({} B)",
            human(t.leftover_bytes),
            exact(t.leftover_bytes)
        ),
        |l| {
            (
                t.leftover_bytes <= *l,
                *l as f64,
                format!("at most {} ({} B)", human(*l), exact(*l)),
            )
        },
    ));
    out.push(check(
        "max-size",
        &rules.max_size,
        t.stored_bytes as f64,
        &format!("stored {} ({} B)", human(t.stored_bytes), exact(t.stored_bytes)),
        |l| {
            (
                t.stored_bytes <= *l,
                *l as f64,
                format!("at most {} ({} B)", human(*l), exact(*l)),
            )
        },
    ));
    CiOutcome {
        pass: out.iter().all(|r| r.status != Status::Fail),
        rules: out,
    }
}

fn check<T>(
    name: &str,
    s: &Setting<T>,
    value: f64,
    measured: &str,
    test: impl Fn(&T) -> (bool, f64, String),
) -> RuleResult {
    match s {
        Setting::Unset | Setting::Disabled(_) => {
            let why = match s {
                Setting::Disabled(o) => format!("disabled in {o}"),
                _ => "not set".into(),
            };
            RuleResult {
                name: name.into(),
                status: Status::Skip,
                value,
                limit: None,
                origin: None,
                message: format!("{measured}; {why}"),
            }
        }
        Setting::Set(l) => {
            let (ok, limit, said) = test(&l.value);
            RuleResult {
                name: name.into(),
                status: if ok { Status::Pass } else { Status::Fail },
                value,
                limit: Some(limit),
                origin: Some(l.origin.clone()),
                message: format!("{measured}; limit {said} ({})", l.origin),
            }
        }
    }
}

/// The CI report: one line per rule, the verdict, then the biggest waste and leftovers with fixes.
pub fn render(a: &Analysis, outcome: &CiOutcome, top: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "dsize CI: {}", super::escape(a.meta.name.as_bytes()));
    for r in &outcome.rules {
        let tag = match r.status {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
        };
        let _ = writeln!(
            out,
            "  {tag}  {:<15} {}",
            r.name,
            super::escape(r.message.as_bytes())
        );
    }
    let failed = outcome.rules.iter().filter(|r| r.status == Status::Fail).count();
    let checked = outcome.rules.iter().filter(|r| r.status != Status::Skip).count();
    if outcome.pass {
        let _ = writeln!(
            out,
            "Result: PASS ({checked} rule{} checked)",
            if checked == 1 { "" } else { "s" }
        );
    } else {
        let _ = writeln!(out, "Result: FAIL ({failed} of {checked} rules failed)");
    }
    let groups = &a.waste_groups;
    if !groups.is_empty() {
        let _ = writeln!(out, "\nBiggest waste (stored but hidden by a later layer):");
        for g in groups.iter().take(top) {
            let _ = writeln!(out, "  {:>10}  {}", human(g.bytes), waste_line(a, g, 70));
            if g.rule.is_some() || g.cause == crate::model::Cause::Deleted {
                let _ = writeln!(out, "      fix: remove it in the same RUN that created it");
            }
        }
    }
    if !a.leftovers.is_empty() {
        let _ = writeln!(out, "\nLeftovers (visible, usually not meant to ship):");
        for l in a.leftovers.iter().take(top) {
            let _ = writeln!(
                out,
                "  {:>10}  {} {}",
                human(l.bytes),
                l.category(),
                super::path(a, l.node)
            );
            let _ = writeln!(out, "      fix: {}", hint_of(l.category()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_percentages() {
        assert_eq!(parse_size("20MB").unwrap(), 20_000_000);
        assert_eq!(parse_size("20MiB").unwrap(), 20 * 1024 * 1024);
        assert_eq!(parse_size("1.5GB").unwrap(), 1_500_000_000);
        assert_eq!(parse_size("12345").unwrap(), 12345);
        assert!(parse_size("lots").is_err());
        assert_eq!(parse_waste("5%").unwrap(), WasteLimit::Percent(5.0));
        assert_eq!(parse_waste("20MB").unwrap(), WasteLimit::Bytes(20_000_000));
        assert_eq!(parse_percent("10%").unwrap(), 10.0);
        assert!((parse_percent("0.1").unwrap() - 10.0).abs() < 1e-9);
        assert!(parse_percent("10").is_err());
        assert!((parse_fraction("0.9").unwrap() - 0.9).abs() < 1e-12);
        assert!((parse_fraction("90%").unwrap() - 0.9).abs() < 1e-12);
    }

    #[test]
    fn dive_ci_files() {
        let r = parse_dive_ci("rules:\n  lowestEfficiency: 0.95\n  highestWastedBytes: 20MB\n  highestUserWastedPercent: 0.20\n").unwrap();
        assert_eq!(r.min_efficiency, Setting::set(0.95, ".dive-ci"));
        assert_eq!(
            r.max_waste,
            Setting::set(WasteLimit::Bytes(20_000_000), ".dive-ci")
        );
        assert!(matches!(&r.max_user_waste, Setting::Set(l) if (l.value - 20.0).abs() < 1e-9));
        let r =
            parse_dive_ci("rules:\n  lowest_efficiency: disabled\n  highest_wasted_bytes: '1000'\n").unwrap();
        assert_eq!(r.min_efficiency, Setting::Disabled(".dive-ci".into()));
        assert_eq!(r.max_waste, Setting::set(WasteLimit::Bytes(1000), ".dive-ci"));
        assert!(parse_dive_ci("rules:\n  bogus: 1\n").is_err());
        assert!(parse_dive_ci("rules: [").is_err());
        assert_eq!(parse_dive_ci("").unwrap(), Rules::default());
    }

    #[test]
    fn flags_override_file_and_defaults_fill_nothing() {
        let file = parse_dive_ci("rules:\n  lowestEfficiency: 0.95\n").unwrap();
        let flags = Rules {
            min_efficiency: Setting::set(0.5, "--min-efficiency"),
            ..Default::default()
        };
        let r = Rules::merge(flags, file);
        assert_eq!(r.min_efficiency, Setting::set(0.5, "--min-efficiency"));
        assert!(r.max_user_waste.is_unset());
        let d = Rules::merge(Rules::default(), Rules::default());
        assert_eq!(d.min_efficiency, Setting::set(0.9, "default"));
        assert_eq!(d.max_user_waste, Setting::set(10.0, "default"));
    }
}
