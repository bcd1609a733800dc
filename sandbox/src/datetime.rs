//! UTC datetime text handling: parsing ISO 8601 input (with or without an
//! offset) into the naive UTC form the sandbox stores and returns.

use std::time::{SystemTime, UNIX_EPOCH};

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn format_seconds(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86400));
    let rem = secs.rem_euclid(86400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The current time as stored (`YYYY-MM-DDTHH:MM:SS`, UTC).
pub fn now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    format_seconds(secs)
}

fn num(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses `YYYY-MM-DD[(T| )HH:MM[:SS[.frac]]][Z|±HH:MM|±HHMM]` into the stored
/// UTC form; microseconds are dropped. Returns None for anything else.
pub fn normalize(text: &str) -> Option<String> {
    let text = text.trim();
    let (date, rest) = match (text.get(..10), text.get(10..)) {
        (Some(date), Some(rest)) => (date, rest),
        _ => (text, ""),
    };
    let b = date.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (num(&date[..4])?, num(&date[5..7])?, num(&date[8..])?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let mut secs = days_from_civil(y, m, d) * 86400;
    if !rest.is_empty() {
        let rest = rest.strip_prefix(['T', ' '])?;
        let tz_at = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
        let (time, tz) = rest.split_at(tz_at);
        let time = time.split('.').next().unwrap_or("");
        let parts: Vec<&str> = time.split(':').collect();
        if parts.len() < 2 || parts.len() > 3 {
            return None;
        }
        let h = num(parts[0])?;
        let mi = num(parts[1])?;
        let s = if parts.len() == 3 { num(parts[2])? } else { 0 };
        if h > 23 || mi > 59 || s > 60 {
            return None;
        }
        secs += h * 3600 + mi * 60 + s;
        if !tz.is_empty() && !tz.eq_ignore_ascii_case("z") {
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            let digits: String = tz[1..].chars().filter(|c| *c != ':').collect();
            if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let off = num(&digits[..2])? * 3600 + num(&digits[2..])? * 60;
            secs -= sign * off;
        }
    }
    Some(format_seconds(secs))
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn parses_dates_and_offsets() {
        assert_eq!(
            normalize("2015-06-01").as_deref(),
            Some("2015-06-01T00:00:00")
        );
        assert_eq!(
            normalize("2015-06-01T00:00:00+02:00").as_deref(),
            Some("2015-05-31T22:00:00")
        );
        assert_eq!(
            normalize("2024-02-29T10:11:12.345Z").as_deref(),
            Some("2024-02-29T10:11:12")
        );
        assert_eq!(normalize("2015-13-01"), None);
        assert_eq!(normalize("yesterday"), None);
        assert_eq!(normalize("2015-06-0\u{e9}T00:00"), None);
        assert_eq!(normalize("2015-06-01T00:00+1\u{e9}1"), None);
    }
}
