//! ISO-8601 datetimes ↔ microseconds since the Unix epoch (UTC).

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn num(b: &[u8], at: usize, len: usize) -> Option<u32> {
    let s = b.get(at..at + len)?;
    let mut v = 0u32;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u32;
    }
    Some(v)
}

/// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS[.ffffff]]` with an optional `Z` or
/// `±HH[:MM]` offset. Naive values are UTC; offsets are converted to UTC.
pub(crate) fn parse_iso(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    let y = num(b, 0, 4)? as i64;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let mo = num(b, 5, 2)?;
    let d = num(b, 8, 2)?;
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let mut micros = days_from_civil(y, mo, d) * 86_400_000_000;
    let mut i = 10;
    if i == b.len() {
        return Some(micros);
    }
    if b[i] != b'T' && b[i] != b' ' {
        return None;
    }
    i += 1;
    let h = num(b, i, 2)?;
    if b.get(i + 2) != Some(&b':') {
        return None;
    }
    let mi = num(b, i + 3, 2)?;
    i += 5;
    let mut sec = 0;
    if b.get(i) == Some(&b':') {
        sec = num(b, i + 1, 2)?;
        i += 3;
    }
    if h > 24 || mi > 59 || sec > 60 {
        return None;
    }
    micros += (h as i64 * 3600 + mi as i64 * 60 + sec as i64) * 1_000_000;
    if matches!(b.get(i), Some(b'.') | Some(b',')) {
        i += 1;
        let mut frac = 0i64;
        let mut digits = 0;
        while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            if digits < 6 {
                frac = frac * 10 + (c - b'0') as i64;
                digits += 1;
            }
            i += 1;
        }
        while digits < 6 {
            frac *= 10;
            digits += 1;
        }
        micros += frac;
    }
    match b.get(i) {
        None => Some(micros),
        Some(b'Z') | Some(b'z') if i + 1 == b.len() => Some(micros),
        Some(&sign @ (b'+' | b'-')) => {
            let oh = num(b, i + 1, 2)?;
            let rest = &b[i + 3..];
            let om = match rest {
                [] => 0,
                [b':', ..] if rest.len() == 3 => num(rest, 1, 2)?,
                _ if rest.len() == 2 => num(rest, 0, 2)?,
                _ => return None,
            };
            let off = (oh as i64 * 60 + om as i64) * 60_000_000;
            Some(if sign == b'+' {
                micros - off
            } else {
                micros + off
            })
        }
        _ => None,
    }
}

/// Formats as `YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00`.
pub(crate) fn format_iso(micros: i64) -> String {
    let days = micros.div_euclid(86_400_000_000);
    let rem = micros.rem_euclid(86_400_000_000);
    let (y, m, d) = civil_from_days(days);
    let secs = rem / 1_000_000;
    let frac = rem % 1_000_000;
    let (h, mi, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if frac == 0 {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}+00:00")
    } else {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{frac:06}+00:00")
    }
}

/// Parses an HTTP date (RFC 9110 §5.6.7: the IMF-fixdate `Sun, 06 Nov 1994 08:49:37 GMT`
/// and the obsolete RFC 850 and asctime forms) as seconds since the Unix epoch.
pub(crate) fn parse_http_date(s: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = |m: &str| {
        let i = MONTHS.iter().position(|x| x.eq_ignore_ascii_case(m))?;
        Some(i as u32 + 1)
    };
    let w: Vec<&str> = s.split_whitespace().collect();
    let (year, mo, d, time): (i64, u32, u32, &str) = match w.as_slice() {
        [_, d, m, y, t, "GMT"] => (y.parse().ok()?, month(m)?, d.parse().ok()?, t),
        [_, dmy, t, "GMT"] => {
            let mut p = dmy.split('-');
            let (d, m, yy) = (p.next()?.parse().ok()?, month(p.next()?)?, p.next()?);
            let yy: i64 = yy.parse().ok()?;
            let year = match yy {
                0..70 => 2000 + yy,
                70..100 => 1900 + yy,
                _ => yy,
            };
            (year, m, d, t)
        }
        [_, m, d, t, y] => (y.parse().ok()?, month(m)?, d.parse().ok()?, t),
        _ => return None,
    };
    let mut hms = time.split(':').map(|x| x.parse::<i64>().ok());
    let (h, mi, sec) = (hms.next()??, hms.next()??, hms.next()??);
    if hms.next().is_some() || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    Some(days_from_civil(year, mo, d) * 86_400 + h * 3600 + mi * 60 + sec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats() {
        assert_eq!(parse_iso("1970-01-01T00:00:00"), Some(0));
        assert_eq!(parse_iso("1970-01-01"), Some(0));
        assert_eq!(parse_iso("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_iso("1969-12-31T19:00:00-05:00"), Some(0));
        assert_eq!(parse_iso("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_iso("1970-01-01T00:00:01.5"), Some(1_500_000));
        let t = parse_iso("2022-10-10T10:12:09").unwrap();
        assert_eq!(t, 1_665_396_729_000_000);
        assert_eq!(format_iso(t), "2022-10-10T10:12:09+00:00");
        assert_eq!(format_iso(-1), "1969-12-31T23:59:59.999999+00:00");
        assert_eq!(parse_iso(&format_iso(-1)), Some(-1));
        assert_eq!(parse_iso("2024-02-30x"), None);
        assert_eq!(parse_iso("nope"), None);
    }

    #[test]
    fn http_dates_in_all_three_forms() {
        for s in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(parse_http_date(s), Some(784_111_777), "{s}");
        }
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 CET"), None);
        assert_eq!(parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT"), None);
        assert_eq!(parse_http_date("120"), None);
    }
}
