//! Kubernetes quantities as Go's `resource.Quantity` prints them after a
//! round trip: `2000m` is `2`, `1024Mi` is `1Gi`, `1.5Gi` is `1536Mi`.
//! Istio's pods go through Go's types, so its output carries this form.

/// How a quantity was written, which decides how it prints.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    DecimalSi,
    BinarySi,
    DecimalExponent,
}

/// The canonical text of quantity `text`, or `None` when it is not one (or
/// too large to handle exactly), in which case it stays as written.
pub fn canonical(text: &str) -> Option<String> {
    let text = text.trim();
    let (negative, rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let number_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(number_end);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
        return None;
    }
    let digits = format!("{whole}{fraction}");
    let mut mantissa: i128 = digits.parse().ok()?;
    let mut exponent = -i32::try_from(fraction.len()).ok()?;
    let format = match suffix {
        "" | "n" | "u" | "m" | "k" | "M" | "G" | "T" | "P" | "E" => {
            exponent += match suffix {
                "n" => -9,
                "u" => -6,
                "m" => -3,
                "k" => 3,
                "M" => 6,
                "G" => 9,
                "T" => 12,
                "P" => 15,
                "E" => 18,
                _ => 0,
            };
            Format::DecimalSi
        }
        "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" => {
            let power = match suffix {
                "Ki" => 1,
                "Mi" => 2,
                "Gi" => 3,
                "Ti" => 4,
                "Pi" => 5,
                _ => 6,
            };
            mantissa = mantissa.checked_mul(1024i128.checked_pow(power)?)?;
            Format::BinarySi
        }
        e if e.starts_with(['e', 'E']) => {
            exponent += e[1..].parse::<i32>().ok()?;
            Format::DecimalExponent
        }
        _ => return None,
    };
    if negative {
        mantissa = -mantissa;
    }
    if mantissa == 0 {
        return Some("0".into());
    }
    // Trailing zeros move into the exponent.
    while mantissa % 10 == 0 {
        mantissa /= 10;
        exponent += 1;
    }
    let integral = exponent >= 0;
    let format = match format {
        Format::BinarySi if !integral => Format::DecimalSi,
        Format::BinarySi => {
            let value = mantissa.checked_mul(10i128.checked_pow(exponent.unsigned_abs())?)?;
            if value.abs() < 1024 {
                Format::DecimalSi
            } else {
                return Some(base1024(value));
            }
        }
        other => other,
    };
    // The exponent goes down to a multiple of 3.
    let down = exponent.rem_euclid(3);
    mantissa = mantissa.checked_mul(10i128.pow(down.unsigned_abs()))?;
    exponent -= down;
    let suffix = match (format, exponent) {
        (_, 0) => String::new(),
        (Format::DecimalExponent, e) => format!("e{e}"),
        (_, -9) => "n".into(),
        (_, -6) => "u".into(),
        (_, -3) => "m".into(),
        (_, 3) => "k".into(),
        (_, 6) => "M".into(),
        (_, 9) => "G".into(),
        (_, 12) => "T".into(),
        (_, 15) => "P".into(),
        (_, 18) => "E".into(),
        _ => return None,
    };
    Some(format!("{mantissa}{suffix}"))
}

/// An integral binary quantity: the largest power of 1024 it is a multiple
/// of.
fn base1024(mut value: i128) -> String {
    let mut power = 0;
    while power < 6 && value % 1024 == 0 {
        value /= 1024;
        power += 1;
    }
    let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][power];
    format!("{value}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::canonical;

    #[test]
    fn prints_as_go_does() {
        for (input, want) in [
            ("2000m", "2"),
            ("1024Mi", "1Gi"),
            ("1.5Gi", "1536Mi"),
            ("100m", "100m"),
            ("128Mi", "128Mi"),
            ("0.5", "500m"),
            ("1000", "1k"),
            ("1500", "1500"),
            ("512", "512"),
            ("1e3", "1e3"),
            ("0", "0"),
            ("0Mi", "0"),
            ("1", "1"),
            ("10m", "10m"),
            ("1G", "1G"),
            ("1000Ki", "1000Ki"),
            ("100Ki", "100Ki"),
        ] {
            assert_eq!(canonical(input).as_deref(), Some(want), "{input}");
        }
        assert_eq!(canonical("lots"), None);
        assert_eq!(canonical("1x"), None);
    }
}
