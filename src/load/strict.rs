//! Typed decoding of one JSON value straight from the input text, with the loader's rules.
//!
//! `serde_json` deserializes a typed struct from text at close to the speed of skipping it, but
//! it accepts what the positioned reader refuses: duplicate keys (inside ignored fields and maps
//! too) and nesting deeper than `--max-depth`. [`decode_prefix`] therefore checks the text the
//! value took for both (one pass over its bytes, nothing decoded) and refuses it when either is
//! found, so that a value decoded here is exactly what the positioned reader would have read; a
//! value it refuses goes through the positioned reader, whose error (with file:line) is the one
//! reported.

use serde::de;

/// Why [`decode_prefix`] gave up.
#[derive(Debug)]
pub enum Undecoded {
    /// The text ends inside the value: read more and try again.
    NeedMore,
    /// Not decodable here (a syntax error, a duplicate key, too deep, a type the struct does not
    /// take): read it with the positioned reader, which says why, or judges it its own way.
    Refused,
}

/// Decodes the JSON value at the start of `text` (after whitespace) into `T`, allowing
/// `depth` levels of nesting, and returns it with the number of bytes it took. The value must
/// be followed by whitespace, `,`, `]`, `}` or the end of `text`.
pub fn decode_prefix<T>(text: &str, depth: usize) -> Result<(T, usize), Undecoded>
where
    T: for<'de> de::Deserialize<'de>,
{
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<T>();
    match stream.next() {
        Some(Ok(v)) => {
            let n = stream.byte_offset();
            // `serde_json` accepted the text, so its syntax is valid: only keys and depth are
            // left to check.
            check_keys_and_depth(&text.as_bytes()[..n], depth).map_err(|_| Undecoded::Refused)?;
            Ok((v, n))
        }
        Some(Err(e)) if e.is_eof() => Err(Undecoded::NeedMore),
        None => Err(Undecoded::NeedMore),
        Some(Err(_)) => Err(Undecoded::Refused),
    }
}

thread_local! {
    /// The scratch space of [`check_keys_and_depth`], kept between calls so that checking
    /// allocates nothing.
    static SCRATCH: std::cell::RefCell<Scratch> = const {
        std::cell::RefCell::new(Scratch {
            keys: Vec::new(),
            starts: Vec::new(),
            open: Vec::new(),
        })
    };
}

struct Scratch {
    /// The keys (byte ranges) of the mappings being read, outermost first.
    keys: Vec<(usize, usize)>,
    /// Where each open mapping's keys start in `keys`.
    starts: Vec<usize>,
    /// The open mappings and sequences, innermost last (true: a mapping).
    open: Vec<bool>,
}

/// Checks the text of one JSON value whose syntax is valid for what the positioned reader
/// refuses: a duplicate key in a mapping, or more than `depth` nested mappings and sequences. A
/// key written with an escape is not compared: the value is refused, the positioned reader
/// decides.
fn check_keys_and_depth(text: &[u8], depth: usize) -> Result<(), &'static str> {
    SCRATCH.with(|s| {
        let scratch = &mut *s.borrow_mut();
        scratch.keys.clear();
        scratch.starts.clear();
        scratch.open.clear();
        scan(text, depth, scratch)
    })
}

fn scan(text: &[u8], depth: usize, s: &mut Scratch) -> Result<(), &'static str> {
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            c @ (b'{' | b'[') => {
                if s.open.len() >= depth {
                    return Err("nesting too deep");
                }
                s.open.push(c == b'{');
                if c == b'{' {
                    s.starts.push(s.keys.len());
                }
            }
            b'}' | b']' => {
                let closes_mapping = s.open.pop() == Some(true);
                if closes_mapping {
                    let start = s.starts.pop().unwrap_or(0);
                    s.keys.truncate(start);
                }
            }
            b'"' => {
                let start = i + 1;
                let mut end = string_end(text, start);
                let escaped = end < text.len() && text[end] == b'\\';
                while end < text.len() && text[end] != b'"' {
                    end += if text[end] == b'\\' { 2 } else { 1 };
                }
                if end >= text.len() {
                    return Err("unterminated string");
                }
                i = end;
                // A key is a string followed by `:`.
                let mut next = end + 1;
                while next < text.len() && matches!(text[next], b' ' | b'\t' | b'\n' | b'\r') {
                    next += 1;
                }
                if text.get(next) == Some(&b':') {
                    if escaped {
                        return Err("a key with an escape");
                    }
                    let key = &text[start..end];
                    let from = s.starts.last().copied().unwrap_or(0);
                    // Most keys of a mapping differ in length or first byte: compared first.
                    let same = |&(a, b): &(usize, usize)| {
                        b - a == key.len() && (a == b || text[a] == key[0]) && &text[a..b] == key
                    };
                    if s.keys[from..].iter().any(same) {
                        return Err("duplicate key");
                    }
                    s.keys.push((start, end));
                    i = next;
                }
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// The index of the first `"` or `\\` at or after `i` (or `text.len()`), eight bytes at a time.
fn string_end(text: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = text.get(i..i + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        // A zero byte in `word ^ c` is a byte equal to `c` (the classic SWAR test).
        let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
        let found = zero(word ^ (ONES * u64::from(b'"'))) | zero(word ^ (ONES * u64::from(b'\\')));
        if found != 0 {
            return i + (found.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < text.len() && text[i] != b'"' && text[i] != b'\\' {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct T {
        #[serde(default)]
        a: Option<i64>,
        #[serde(default)]
        m: std::collections::BTreeMap<String, String>,
    }

    #[test]
    fn string_end_finds_the_first_quote_or_backslash() {
        let text = r#"abcdefghijklmnopqrstu"vw\xyz0123456789abcdef"ghé😀"#.as_bytes();
        for start in 0..text.len() {
            let naive = (start..text.len())
                .find(|&i| text[i] == b'"' || text[i] == b'\\')
                .unwrap_or(text.len());
            assert_eq!(string_end(text, start), naive, "{start}");
        }
    }

    #[test]
    fn refuses_what_the_positioned_reader_refuses() {
        let text = r#" {"a": 1, "x": {"y": [1, {"z": 2}]}} ,"#;
        let ok = decode_prefix::<T>(text, 10).unwrap();
        assert_eq!(ok.0.a, Some(1));
        assert_eq!(ok.1, text.len() - 2);
        for bad in [
            r#"{"a": 1, "a": 2}"#,
            r#"{"x": {"y": 1, "y": 2}}"#,
            r#"{"x": [{"y": 1, "y": 2}]}"#,
            r#"{"m": {"k": "1", "k": "2"}}"#,
            r#"{"x": 1, "x": 1}"#,
            r#"{"a": "1"}"#,
            r#"{"a": 1 x}"#,
        ] {
            assert!(
                matches!(decode_prefix::<T>(bad, 10), Err(Undecoded::Refused)),
                "{bad}"
            );
        }
        assert!(matches!(
            decode_prefix::<T>(r#"{"a": 1, "x": {"y"#, 10),
            Err(Undecoded::NeedMore)
        ));
        // Depth: the value itself is one level.
        let deep = r#"{"x": [[[1]]]}"#;
        assert!(decode_prefix::<T>(deep, 4).is_ok());
        assert!(matches!(
            decode_prefix::<T>(deep, 3),
            Err(Undecoded::Refused)
        ));
    }
}
