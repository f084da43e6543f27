//! PostgreSQL `numeric` in its binary wire format, decoded to exact decimal
//! text (the WIT contract carries numerics as text so nothing is rounded).
//!
//! Wire format: `ndigits: i16, weight: i16, sign: u16, dscale: u16`, then
//! `ndigits` base-10000 digits (`i16`). The value is
//! `sum(digit[i] * 10000^(weight - i))`, printed with `dscale` fraction digits.

const POSITIVE: u16 = 0x0000;
const NEGATIVE: u16 = 0x4000;
const NAN: u16 = 0xC000;
const PINF: u16 = 0xD000;
const NINF: u16 = 0xF000;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("malformed numeric value: {0}")]
pub struct NumericError(&'static str);

/// An upper bound on the length of [`numeric_to_text`]'s result, from the
/// header alone: a value a few bytes long on the wire can be 131,072 digits
/// long as text, and the caller must be able to refuse it before it exists.
pub fn numeric_text_len(raw: &[u8]) -> Result<usize, NumericError> {
    let word = |i: usize| -> Result<u16, NumericError> {
        raw.get(i..i + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .ok_or(NumericError("too short"))
    };
    let weight = word(2)? as i16 as i64;
    let dscale = word(6)? as i16 as i64;
    if dscale < 0 {
        return Err(NumericError("negative length"));
    }
    // Sign, integer digits (at least "0"), point and fraction.
    let integer = if weight < 0 { 1 } else { (weight + 1) * 4 };
    Ok((1 + integer + 1 + dscale) as usize)
}

pub fn numeric_to_text(raw: &[u8]) -> Result<String, NumericError> {
    let word = |i: usize| -> Result<u16, NumericError> {
        raw.get(i..i + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .ok_or(NumericError("too short"))
    };
    let ndigits = word(0)? as i16;
    let weight = word(2)? as i16;
    let sign = word(4)?;
    let dscale = word(6)? as i16;
    if ndigits < 0 || dscale < 0 {
        return Err(NumericError("negative length"));
    }
    match sign {
        NAN => return Ok("NaN".into()),
        PINF => return Ok("Infinity".into()),
        NINF => return Ok("-Infinity".into()),
        POSITIVE | NEGATIVE => {}
        _ => return Err(NumericError("unknown sign")),
    }
    let digits = (0..ndigits as usize)
        .map(|i| {
            let d = word(8 + 2 * i)?;
            if d >= 10_000 {
                Err(NumericError("digit out of range"))
            } else {
                Ok(d)
            }
        })
        .collect::<Result<Vec<u16>, _>>()?;
    // Base-10000 digit at position `w` (weight) or 0 when absent.
    let digit_at = |w: i32| -> u16 {
        let index = weight as i32 - w;
        if index >= 0 && (index as usize) < digits.len() {
            digits[index as usize]
        } else {
            0
        }
    };

    let mut out = String::new();
    if sign == NEGATIVE {
        out.push('-');
    }
    // Integer part: groups from `weight` down to 0.
    if weight < 0 {
        out.push('0');
    } else {
        for w in (0..=weight as i32).rev() {
            let group = digit_at(w);
            if w == weight as i32 {
                out.push_str(&group.to_string());
            } else {
                out.push_str(&format!("{group:04}"));
            }
        }
    }
    // Fraction part: exactly `dscale` decimal digits.
    if dscale > 0 {
        out.push('.');
        let mut written = 0;
        let mut w = -1;
        while written < dscale {
            let group = format!("{:04}", digit_at(w));
            for ch in group.chars() {
                if written == dscale {
                    break;
                }
                out.push(ch);
                written += 1;
            }
            w -= 1;
        }
    }
    if out == "-0" || (out.starts_with("-0.") && out[3..].bytes().all(|b| b == b'0')) {
        out.remove(0);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(ndigits: i16, weight: i16, sign: u16, dscale: i16, digits: &[u16]) -> Vec<u8> {
        let mut raw = Vec::new();
        for w in [ndigits as u16, weight as u16, sign, dscale as u16] {
            raw.extend_from_slice(&w.to_be_bytes());
        }
        for d in digits {
            raw.extend_from_slice(&d.to_be_bytes());
        }
        raw
    }

    #[test]
    fn integers_fractions_and_signs() {
        // 12345.678 = [1, 2345, 6780] weight 1, dscale 3
        assert_eq!(
            numeric_to_text(&wire(3, 1, POSITIVE, 3, &[1, 2345, 6780])).unwrap(),
            "12345.678"
        );
        assert_eq!(
            numeric_to_text(&wire(1, 0, NEGATIVE, 2, &[42])).unwrap(),
            "-42.00"
        );
        // 0.0005 = [5] weight -1 (the group 0000.0005 -> digit 5 at weight -1 means 0.0005)
        assert_eq!(
            numeric_to_text(&wire(1, -1, POSITIVE, 4, &[5])).unwrap(),
            "0.0005"
        );
        // 100000000 = [1, 0, 0] weight 2, trailing zero groups stripped on the wire
        assert_eq!(
            numeric_to_text(&wire(1, 2, POSITIVE, 0, &[1])).unwrap(),
            "100000000"
        );
        assert_eq!(
            numeric_to_text(&wire(0, 0, POSITIVE, 2, &[])).unwrap(),
            "0.00"
        );
        assert_eq!(numeric_to_text(&wire(0, 0, NEGATIVE, 0, &[])).unwrap(), "0");
    }

    #[test]
    fn the_text_length_is_bounded_from_the_header() {
        for raw in [
            wire(3, 1, POSITIVE, 3, &[1, 2345, 6780]),
            wire(1, 0, NEGATIVE, 2, &[42]),
            wire(1, -1, POSITIVE, 4, &[5]),
            wire(1, 2, POSITIVE, 0, &[1]),
            wire(0, 0, NEGATIVE, 0, &[]),
        ] {
            let text = numeric_to_text(&raw).unwrap();
            assert!(text.len() <= numeric_text_len(&raw).unwrap(), "{text}");
        }
        // 1e131071: one digit on the wire, 131,072 characters as text.
        let huge = wire(1, 32767, POSITIVE, 0, &[10]);
        assert!(numeric_text_len(&huge).unwrap() >= 131_072);
    }

    #[test]
    fn special_values_and_garbage() {
        assert_eq!(numeric_to_text(&wire(0, 0, NAN, 0, &[])).unwrap(), "NaN");
        assert_eq!(
            numeric_to_text(&wire(0, 0, PINF, 0, &[])).unwrap(),
            "Infinity"
        );
        assert_eq!(
            numeric_to_text(&wire(0, 0, NINF, 0, &[])).unwrap(),
            "-Infinity"
        );
        assert!(numeric_to_text(&[0, 1]).is_err());
        assert!(numeric_to_text(&wire(1, 0, POSITIVE, 0, &[10_000])).is_err());
        assert!(numeric_to_text(&wire(2, 0, POSITIVE, 0, &[1])).is_err());
    }
}
