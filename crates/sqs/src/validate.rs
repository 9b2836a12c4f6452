//! Input rules AWS enforces on names, ids, bodies and message attributes.

use lb_core::{aws_error, AwsError};

use crate::errors::{self, ALLOWED_CHARACTERS};
use crate::model::{MessageAttributeValue, MessageAttributes};

/// The most attributes a message may carry.
pub const MAX_MESSAGE_ATTRIBUTES: usize = 10;

/// Whether `c` is in the character set SQS accepts in bodies and string attribute values.
pub fn allowed_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// The first character of `s` SQS does not accept. A byte scan finds the common case (nothing
/// suspicious) without decoding the string.
pub fn first_invalid_char(s: &str) -> Option<char> {
    if !any_suspicious(s.as_bytes()) {
        return None;
    }
    s.chars().find(|&c| !allowed_char(c))
}

/// A control character other than tab, line feed and carriage return, or the lead byte of
/// U+F000–U+FFFF (where U+FFFE and U+FFFF live).
fn suspicious(b: u8) -> bool {
    (b < 0x20 && b != b'\t' && b != b'\n' && b != b'\r') || b == 0xEF
}

/// Whether any byte is [`suspicious`], eight bytes at a time: a word with no byte below 0x20
/// and none equal to 0xEF (the usual case) is passed over without looking at its bytes.
fn any_suspicious(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let x = u64::from_ne_bytes(w);
        // Nonzero if some byte is below 0x20 (exact for "any", which is all that is asked).
        let below_space = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
        let e = x ^ (ONES * 0xEF);
        let is_ef = e.wrapping_sub(ONES) & !e & HIGH;
        if below_space | is_ef != 0 && word.iter().any(|&b| suspicious(b)) {
            return true;
        }
    }
    words.remainder().iter().any(|&b| suspicious(b))
}

pub fn check_body(body: &str) -> Result<(), AwsError> {
    match first_invalid_char(body) {
        Some(c) => Err(errors::invalid_message_contents(c)),
        None => Ok(()),
    }
}

/// Standard queue names: 1-80 of `[A-Za-z0-9_-]`; FIFO names add the `.fifo` suffix within the 80.
pub fn check_queue_name(name: &str, fifo: bool) -> Result<(), AwsError> {
    let base = if fifo { name.strip_suffix(".fifo") } else { Some(name) };
    let ok = base.is_some_and(|b| {
        !b.is_empty() && name.len() <= 80 && b.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    });
    if ok {
        Ok(())
    } else if fifo {
        Err(errors::invalid_parameter(
            "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.",
        ))
    } else {
        Err(errors::invalid_parameter(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
        ))
    }
}

/// Batch entry ids: 1-80 of `[A-Za-z0-9_-]`.
pub fn valid_batch_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 80 && id.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

/// `MessageGroupId` and `MessageDeduplicationId`: 1-128 alphanumeric and punctuation characters.
pub fn check_token(value: &str, param: &str) -> Result<(), AwsError> {
    if !value.is_empty() && value.len() <= 128 && value.bytes().all(|c| c.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(errors::invalid_value(
            value,
            param,
            &format!("{param} can only include alphanumeric and punctuation characters. 1 to 128 in length."),
        ))
    }
}

/// Alphanumeric characters (any script: AWS accepts `attr.1øßä`), `_`, `-` and `.`.
fn valid_attribute_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    !name.is_empty()
        && name.chars().count() <= 256
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..")
        && !lower.starts_with("aws.")
        && !lower.starts_with("amazon.")
}

/// `String`, `Number` or `Binary`, optionally followed by `.label`.
fn base_type(data_type: &str) -> Option<&'static str> {
    ["String", "Number", "Binary"].into_iter().find(|base| {
        data_type
            .strip_prefix(base)
            .is_some_and(|rest| rest.is_empty() || (rest.len() > 1 && rest.starts_with('.')))
    })
}

/// A decimal number as SQS's `Number` type accepts it (`-1`, `3.14`, `6.02e23`).
fn is_number(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let digits = |d: &str| d.bytes().all(|c| c.is_ascii_digit());
    let mantissa_ok = digits(int) && frac.is_none_or(digits) && (int.len() + frac.map_or(0, str::len)) > 0;
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok
}

fn check_value(name: &str, v: &MessageAttributeValue, kind: &str) -> Result<(), AwsError> {
    if !v.string_list_values.is_empty() || !v.binary_list_values.is_empty() {
        return Err(errors::invalid_parameter(format!(
            "Message {kind} attribute '{name}' uses StringListValues or BinaryListValues, which are reserved and not supported."
        )));
    }
    if v.data_type.is_empty() {
        return Err(errors::invalid_parameter(format!(
            "The message attribute '{name}' must contain non-empty message attribute type."
        )));
    }
    let Some(base) = base_type(&v.data_type).filter(|_| v.data_type.len() <= 256) else {
        return Err(errors::invalid_parameter(format!(
            "The type of message {kind} attribute '{name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String."
        )));
    };
    let non_empty = || {
        errors::invalid_parameter(format!(
            "Message {kind} attribute '{name}' must contain a non-empty value of type '{base}'."
        ))
    };
    if base == "Binary" {
        if v.binary_value.as_ref().is_none_or(Vec::is_empty) || v.string_value.is_some() {
            return Err(non_empty());
        }
        return Ok(());
    }
    let s = match (&v.string_value, &v.binary_value) {
        (Some(s), None) if !s.is_empty() => s,
        _ => return Err(non_empty()),
    };
    if let Some(c) = first_invalid_char(s) {
        return Err(aws_error!(
            400,
            errors::INVALID_PARAMETER_VALUE,
            "Message {kind} attribute '{name}' value contains invalid binary character '#x{:X}'. You must use only the following supported characters: {ALLOWED_CHARACTERS}.",
            u32::from(c)
        ));
    }
    if base == "Number" && !is_number(s) {
        return Err(errors::invalid_parameter(format!(
            "Could not cast message attribute '{name}' value to number."
        )));
    }
    Ok(())
}

/// Checks user message attributes: at most 10, valid names, types and values.
pub fn check_attributes(attrs: &MessageAttributes) -> Result<(), AwsError> {
    if attrs.len() > MAX_MESSAGE_ATTRIBUTES {
        return Err(errors::invalid_parameter(format!(
            "Number of message attributes [{}] exceeds the allowed maximum [{MAX_MESSAGE_ATTRIBUTES}].",
            attrs.len()
        )));
    }
    for (name, v) in attrs {
        if !valid_attribute_name(name) {
            return Err(errors::invalid_parameter(format!(
                "Message (user) attribute name '{name}' is invalid. An attribute name can contain alphanumeric characters, hyphens, underscores and periods, must not start or end with a period or contain consecutive periods, must not start with 'AWS.' or 'Amazon.', and can be up to 256 characters long."
            )));
        }
        check_value(name, v, "(user)")?;
    }
    Ok(())
}

/// Checks message system attributes: only `AWSTraceHeader`, a non-empty String.
pub fn check_system_attributes(attrs: &MessageAttributes) -> Result<(), AwsError> {
    for (name, v) in attrs {
        if name != "AWSTraceHeader" {
            return Err(errors::invalid_parameter(format!(
                "Message system attribute name '{name}' is invalid."
            )));
        }
        if v.data_type != "String" {
            return Err(errors::invalid_parameter(format!(
                "Message system attribute '{name}' must be of type 'String'."
            )));
        }
        check_value(name, v, "(system)")?;
    }
    Ok(())
}

/// The bytes attributes count toward the message size: name, type and value of each.
pub fn attributes_size(attrs: &MessageAttributes) -> usize {
    attrs
        .iter()
        .map(|(name, v)| {
            name.len()
                + v.data_type.len()
                + v.string_value.as_ref().map_or(0, String::len)
                + v.binary_value.as_ref().map_or(0, Vec::len)
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(name: &str, v: MessageAttributeValue) -> MessageAttributes {
        let mut m = MessageAttributes::new();
        m.insert(name.to_owned(), v);
        m
    }

    #[test]
    fn word_scan_agrees_with_the_byte_test() {
        // Every byte value at every position of strings long enough to use whole words and a
        // remainder, against a background of ordinary and borderline bytes.
        for background in [b'a', b' ', 0x1F_u8.wrapping_add(1), 0xEE, 0xF0, 0x7F, b'\n'] {
            for len in [1usize, 7, 8, 9, 16, 23] {
                for at in 0..len {
                    for b in 0..=255u8 {
                        let mut bytes = vec![background; len];
                        bytes[at] = b;
                        let want = bytes.iter().any(|&c| suspicious(c));
                        assert_eq!(any_suspicious(&bytes), want, "{bytes:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn body_characters() {
        assert_eq!(first_invalid_char("plain\t\r\n text é 日本 \u{1F600}"), None);
        assert_eq!(first_invalid_char("a\u{0}b"), Some('\u{0}'));
        assert_eq!(first_invalid_char("a\u{1c}"), Some('\u{1c}'));
        assert_eq!(first_invalid_char("x\u{FFFE}"), Some('\u{FFFE}'));
        assert_eq!(first_invalid_char("x\u{FFFF}"), Some('\u{FFFF}'));
        assert_eq!(first_invalid_char("x\u{FFFD}\u{E000}"), None);
        let err = check_body("a\u{1}").unwrap_err();
        assert_eq!(err.code, errors::INVALID_MESSAGE_CONTENTS);
        assert!(err
            .message
            .starts_with("Invalid binary character '#x1' was found in the message body"));
    }

    #[test]
    fn queue_names() {
        assert!(check_queue_name("a", false).is_ok());
        assert!(check_queue_name(&"a".repeat(80), false).is_ok());
        assert!(check_queue_name(&"a".repeat(81), false).is_err());
        assert!(check_queue_name("a.b", false).is_err());
        assert!(check_queue_name("q.fifo", false).is_err());
        assert!(check_queue_name("", false).is_err());
        assert!(check_queue_name("q.fifo", true).is_ok());
        assert!(check_queue_name(".fifo", true).is_err());
        assert!(check_queue_name("q", true).is_err());
        assert!(check_queue_name(&format!("{}.fifo", "a".repeat(75)), true).is_ok());
        assert!(check_queue_name(&format!("{}.fifo", "a".repeat(76)), true).is_err());
    }

    #[test]
    fn ids_and_tokens() {
        assert!(valid_batch_id("a-b_C9"));
        assert!(!valid_batch_id(""));
        assert!(!valid_batch_id("invalid:id"));
        assert!(!valid_batch_id(&"x".repeat(81)));
        assert!(check_token("g-1!#", "MessageGroupId").is_ok());
        let err = check_token("group 123", "MessageGroupId").unwrap_err();
        assert_eq!(
            err.message,
            "Value group 123 for parameter MessageGroupId is invalid. Reason: MessageGroupId can only include alphanumeric and punctuation characters. 1 to 128 in length."
        );
        assert!(check_token("", "MessageDeduplicationId").is_err());
        assert!(check_token(&"a".repeat(129), "MessageDeduplicationId").is_err());
    }

    #[test]
    fn attribute_rules() {
        assert!(check_attributes(&one("a.b-c_d", MessageAttributeValue::string("Number.int", "-1.5e3"))).is_ok());
        assert!(check_attributes(&one("b", MessageAttributeValue::binary("Binary.gz", vec![1, 2]))).is_ok());
        let err = check_attributes(&one("ErrorDetails", MessageAttributeValue::string("String", ""))).unwrap_err();
        assert_eq!(
            err.message,
            "Message (user) attribute 'ErrorDetails' must contain a non-empty value of type 'String'."
        );
        let err = check_attributes(&one("n", MessageAttributeValue::string("Number", "abc"))).unwrap_err();
        assert_eq!(err.message, "Could not cast message attribute 'n' value to number.");
        assert!(check_attributes(&one("attr.1øßä", MessageAttributeValue::string("String", "v"))).is_ok());
        for bad in ["AWS.x", "amazon.x", ".a", "a.", "a..b", "a b", "", "a/b", "a\u{0}"] {
            assert!(
                check_attributes(&one(bad, MessageAttributeValue::string("String", "v"))).is_err(),
                "{bad}"
            );
        }
        for bad_type in ["", "Str", "String.", "Stringx", "Blob"] {
            assert!(
                check_attributes(&one("a", MessageAttributeValue::string(bad_type, "v"))).is_err(),
                "{bad_type}"
            );
        }
        let err = check_attributes(&one("a", MessageAttributeValue::string("String", "x\u{1c}"))).unwrap_err();
        assert!(
            err.message.contains("invalid binary character '#x1C'"),
            "{}",
            err.message
        );
        let mut many = MessageAttributes::new();
        for i in 0..11 {
            many.insert(format!("a{i}"), MessageAttributeValue::string("String", "v"));
        }
        assert_eq!(
            check_attributes(&many).unwrap_err().message,
            "Number of message attributes [11] exceeds the allowed maximum [10]."
        );
        assert_eq!(
            attributes_size(&one("ab", MessageAttributeValue::string("String", "xyz"))),
            2 + 6 + 3
        );
    }

    #[test]
    fn system_attributes() {
        assert!(check_system_attributes(&one(
            "AWSTraceHeader",
            MessageAttributeValue::string("String", "Root=1")
        ))
        .is_ok());
        assert!(check_system_attributes(&one("Other", MessageAttributeValue::string("String", "x"))).is_err());
        assert!(check_system_attributes(&one("AWSTraceHeader", MessageAttributeValue::string("Number", "1"))).is_err());
    }

    #[test]
    fn numbers() {
        for ok in ["0", "-1", "+2", "3.14", ".5", "5.", "6.02e23", "1E-5"] {
            assert!(is_number(ok), "{ok}");
        }
        for bad in ["", "-", ".", "1e", "e5", "1.2.3", "0x10", "one"] {
            assert!(!is_number(bad), "{bad}");
        }
    }
}
