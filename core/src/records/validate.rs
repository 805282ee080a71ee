//! Input checks shared by the record kinds. Messages name the field and the rule, never the value
//! (a value may be clinical text).

use crate::error::{Error, Result};

/// A 1–5 rating.
pub fn rating(field: &str, v: i64) -> Result<()> {
    if (1..=5).contains(&v) {
        Ok(())
    } else {
        Err(Error::invalid(field, "must be between 1 and 5"))
    }
}

/// An optional 1–5 rating.
pub fn opt_rating(field: &str, v: Option<i64>) -> Result<()> {
    v.map_or(Ok(()), |v| rating(field, v))
}

/// A short single-line label (alias codes, jurisdictions, codes).
pub fn label(field: &str, v: &str, max: usize) -> Result<()> {
    if v.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if v.chars().count() > max {
        return Err(Error::invalid(field, format!("must be at most {max} characters")));
    }
    if v.chars().any(|c| c.is_control()) {
        return Err(Error::invalid(field, "must be a single line without control characters"));
    }
    Ok(())
}

/// A calendar date `YYYY-MM-DD`.
pub fn date(field: &str, v: &str) -> Result<()> {
    let b = v.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && digits(0..4)
        && digits(5..7)
        && digits(8..10)
        && {
            let m: u32 = v[5..7].parse().unwrap_or(0);
            let d: u32 = v[8..10].parse().unwrap_or(0);
            (1..=12).contains(&m) && (1..=31).contains(&d)
        };
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(field, "must be a date YYYY-MM-DD"))
    }
}

/// A free-text field (bounded so one field cannot exhaust memory).
pub fn text(field: &str, v: &str) -> Result<()> {
    if v.len() > 1 << 20 {
        return Err(Error::invalid(field, "must be at most 1 MiB"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert!(rating("significance", 5).is_ok());
        assert!(rating("significance", 7).is_err());
        assert!(rating("significance", 0).is_err());
        assert!(date("intake_date", "2026-02-28").is_ok());
        assert!(date("intake_date", "2026-13-01").is_err());
        assert!(date("intake_date", "26-1-1").is_err());
        assert!(label("alias_code", "C-0142", 64).is_ok());
        assert!(label("alias_code", " ", 64).is_err());
        assert!(label("alias_code", "a\nb", 64).is_err());
    }
}
