//! JSON numbers to `f64`, fast for the numbers events carry.
//!
//! Events are full of short decimals (`42`, `19.99`, `1.5e3`). The standard library's parser is
//! correct for every input but general, and it was a tenth of the scan of a number-heavy event.
//! Here the common case takes Clinger's fast path: when the digits form an integer `m` below
//! 2^53 and the decimal exponent `e` is within ±22, both `m` and `10^|e|` are exact doubles, so one
//! IEEE multiplication or division rounds once and gives the correctly rounded result, the same
//! bits the standard parser gives. Anything else (more digits, larger exponents) falls back to the
//! standard parser.

/// Powers of ten that are exact doubles.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The value of a JSON number's text, `None` if it is not one or not finite.
#[inline]
pub(crate) fn parse(text: &[u8]) -> Option<f64> {
    fast(text).or_else(|| slow(text))
}

/// Clinger's fast path; `None` when it does not apply (or the text is not a plain number).
#[inline]
fn fast(text: &[u8]) -> Option<f64> {
    let (negative, mut rest) = match text {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, text),
    };
    let mut mantissa: u64 = 0;
    let mut digits = 0u32;
    let mut scale: i32 = 0;
    let mut seen_dot = false;
    let mut seen_digit = false;
    while let [b, tail @ ..] = rest {
        match b {
            b'0'..=b'9' => {
                seen_digit = true;
                // Leading zeros cost nothing; 19 significant digits always fit a u64.
                if mantissa != 0 || *b != b'0' {
                    digits += 1;
                    if digits > 19 {
                        return None;
                    }
                }
                mantissa = mantissa * 10 + u64::from(b - b'0');
                if seen_dot {
                    scale -= 1;
                }
            }
            b'.' if !seen_dot => seen_dot = true,
            b'e' | b'E' if seen_digit => {
                scale = scale.checked_add(exponent(tail)?)?;
                break;
            }
            _ => return None,
        }
        rest = tail;
    }
    if !seen_digit || mantissa > 1 << 53 {
        return None;
    }
    let m = mantissa as f64;
    let x = match scale {
        0 => m,
        1..=22 => m * POW10[scale as usize],
        -22..=-1 => m / POW10[(-scale) as usize],
        _ => return None,
    };
    Some(if negative { -x } else { x })
}

/// A small exponent (`+7`, `-3`, `12`); `None` for anything else, which the slow path handles.
fn exponent(text: &[u8]) -> Option<i32> {
    let (sign, digits) = match text {
        [b'-', rest @ ..] => (-1, rest),
        [b'+', rest @ ..] => (1, rest),
        _ => (1, text),
    };
    if digits.is_empty() || digits.len() > 4 {
        return None;
    }
    let mut e = 0i32;
    for b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        e = e * 10 + i32::from(b - b'0');
    }
    Some(sign * e)
}

fn slow(text: &[u8]) -> Option<f64> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse::<f64>().ok())
        .filter(|x| x.is_finite())
}

#[cfg(test)]
mod tests {
    use super::parse;

    fn std_parse(t: &str) -> Option<f64> {
        t.parse::<f64>().ok().filter(|x| x.is_finite())
    }

    #[test]
    fn agrees_with_the_standard_parser_bit_for_bit() {
        let fixed = [
            "0",
            "-0",
            "1",
            "-1",
            "42",
            "19.99",
            "0.1",
            "0.30000000000000004",
            "1e3",
            "1E-3",
            "1.5e+2",
            "123456789012345678",
            "9007199254740993",
            "9007199254740992",
            "1e22",
            "1e23",
            "1e-22",
            "1e-23",
            "4.35",
            "100000000000000000000000",
            "0.000001",
            "3.5e1",
            "35.0",
            "1.7976931348623157e308",
            "5e-324",
            "12345678901234567890",
            "00012",
        ];
        for t in fixed {
            assert_eq!(
                parse(t.as_bytes()).map(f64::to_bits),
                std_parse(t).map(f64::to_bits),
                "{t}"
            );
        }
        // A deterministic sweep of decimals of every length and scale.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let digits = (x % 20) as usize + 1;
            let m = (x >> 8) % 10u64.pow(digits.min(19) as u32);
            let text = match (x >> 3) % 4 {
                0 => format!("{m}"),
                1 => {
                    let s = m.to_string();
                    let cut = (x >> 40) as usize % (s.len() + 1);
                    let int = if cut == 0 { "0" } else { &s[..cut] };
                    format!("{int}.{}0", &s[cut..])
                }
                2 => format!("{m}e{}", (x >> 32) as i64 % 30 - 15),
                _ => format!("-{m}.{}e-{}", (x >> 20) % 1000, (x >> 50) % 25),
            };
            assert_eq!(
                parse(text.as_bytes()).map(f64::to_bits),
                std_parse(&text).map(f64::to_bits),
                "{text}"
            );
        }
    }

    #[test]
    fn refuses_what_is_not_a_number() {
        for t in [
            "", "-", "-e5", "1.2.3", "1e", "e5", "abc", "1e99999", "1e+", "1-",
        ] {
            assert_eq!(parse(t.as_bytes()), std_parse(t), "{t}");
        }
    }
}
