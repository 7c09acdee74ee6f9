//! Typed decoding of one JSON value straight from the input text, with the loader's rules.
//!
//! `serde_json` deserializes a typed struct from text at close to the speed of skipping it, but
//! it accepts what the positioned reader refuses: duplicate keys (inside ignored fields and maps
//! too) and nesting deeper than `--max-depth`. [`Strict`] wraps a deserializer and refuses both,
//! so that a value decoded here is exactly what the positioned reader would have read; a value it
//! refuses goes through the positioned reader, whose error (with file:line) is the one reported.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

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
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<StrictValue<T>>();
    DEPTH.with(|d| d.set(depth));
    match stream.next() {
        Some(Ok(StrictValue(v))) => Ok((v, stream.byte_offset())),
        Some(Err(e)) if e.is_eof() => Err(Undecoded::NeedMore),
        None => Err(Undecoded::NeedMore),
        Some(Err(_)) => Err(Undecoded::Refused),
    }
}

thread_local! {
    /// The nesting allowed to the value [`decode_prefix`] decodes (a `Deserialize` impl takes no
    /// arguments).
    static DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// `T`, deserialized through [`Strict`].
struct StrictValue<T>(T);

impl<'de, T: de::Deserialize<'de>> de::Deserialize<'de> for StrictValue<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let depth = DEPTH.with(|c| c.get());
        T::deserialize(Strict { de: d, depth }).map(StrictValue)
    }
}

/// A deserializer that refuses duplicate keys and nesting deeper than `depth` anywhere in the
/// value, fields the target type ignores included.
pub struct Strict<D> {
    de: D,
    /// Mappings and sequences that may still be entered.
    depth: usize,
}

struct Wrap<V> {
    v: V,
    depth: usize,
}

struct Seed<S> {
    seed: S,
    depth: usize,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<S> {
    type Value = S::Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.seed.deserialize(Strict {
            de: d,
            depth: self.depth,
        })
    }
}

macro_rules! forward {
    ($($method:ident($($arg:ident: $ty:ty),*)),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* v: V) -> Result<V::Value, D::Error> {
            self.de.$method($($arg,)* Wrap { v, depth: self.depth })
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Strict<D> {
    type Error = D::Error;

    forward! {
        deserialize_any(), deserialize_bool(), deserialize_i8(), deserialize_i16(),
        deserialize_i32(), deserialize_i64(), deserialize_i128(), deserialize_u8(),
        deserialize_u16(), deserialize_u32(), deserialize_u64(), deserialize_u128(),
        deserialize_f32(), deserialize_f64(), deserialize_char(), deserialize_str(),
        deserialize_string(), deserialize_bytes(), deserialize_byte_buf(),
        deserialize_option(), deserialize_unit(), deserialize_seq(), deserialize_map(),
        deserialize_identifier(),
        deserialize_unit_struct(name: &'static str),
        deserialize_newtype_struct(name: &'static str),
        deserialize_tuple(len: usize),
        deserialize_tuple_struct(name: &'static str, len: usize),
        deserialize_struct(name: &'static str, fields: &'static [&'static str]),
        deserialize_enum(name: &'static str, variants: &'static [&'static str]),
    }

    /// Ignored values are read too, to find duplicate keys and depth in them: `serde_json` skips
    /// the value (checking its syntax) and hands over its text, whose keys and nesting
    /// [`check_skipped`] checks without decoding anything.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        let raw = <&'de serde_json::value::RawValue as de::Deserialize>::deserialize(self.de)?;
        check_skipped(raw.get().as_bytes(), self.depth).map_err(de::Error::custom)?;
        v.visit_unit()
    }

    fn is_human_readable(&self) -> bool {
        self.de.is_human_readable()
    }
}

macro_rules! visit {
    ($($method:ident($ty:ty)),* $(,)?) => {$(
        fn $method<E: de::Error>(self, x: $ty) -> Result<V::Value, E> {
            self.v.$method(x)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.v.expecting(f)
    }

    visit! {
        visit_bool(bool), visit_i8(i8), visit_i16(i16), visit_i32(i32), visit_i64(i64),
        visit_i128(i128), visit_u8(u8), visit_u16(u16), visit_u32(u32), visit_u64(u64),
        visit_u128(u128), visit_f32(f32), visit_f64(f64), visit_char(char), visit_str(&str),
        visit_borrowed_str(&'de str), visit_string(String), visit_bytes(&[u8]),
        visit_borrowed_bytes(&'de [u8]), visit_byte_buf(Vec<u8>),
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.v.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.v.visit_unit()
    }

    fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<V::Value, D2::Error> {
        self.v.visit_some(Strict {
            de: d,
            depth: self.depth,
        })
    }

    fn visit_newtype_struct<D2: Deserializer<'de>>(self, d: D2) -> Result<V::Value, D2::Error> {
        self.v.visit_newtype_struct(Strict {
            de: d,
            depth: self.depth,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        let depth = self
            .depth
            .checked_sub(1)
            .ok_or_else(|| de::Error::custom("nesting too deep"))?;
        self.v.visit_seq(Seq { seq, depth })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        let depth = self
            .depth
            .checked_sub(1)
            .ok_or_else(|| de::Error::custom("nesting too deep"))?;
        self.v.visit_map(Map {
            map,
            depth,
            keys: Keys::default(),
        })
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, _: A) -> Result<V::Value, A::Error> {
        // JSON has no enums of its own; nothing here reads one.
        Err(de::Error::custom("enums are not decoded strictly"))
    }
}

struct Seq<A> {
    seq: A,
    depth: usize,
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Seq<A> {
    type Error = A::Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        self.seq.next_element_seed(Seed {
            seed,
            depth: self.depth,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.seq.size_hint()
    }
}

struct Map<'de, A> {
    map: A,
    depth: usize,
    keys: Keys<'de>,
}

/// The keys of a mapping read so far. Mappings in manifests are small: a linear search is
/// fastest, and the first keys (borrowed from the input) need no allocation.
#[derive(Default)]
struct Keys<'de> {
    len: usize,
    first: [&'de str; 16],
    more: Vec<Cow<'de, str>>,
}

impl<'de> Keys<'de> {
    fn contains(&self, key: &str) -> bool {
        self.first[..self.len].contains(&key) || self.more.iter().any(|k| k == key)
    }

    fn push(&mut self, key: Cow<'de, str>) {
        match key {
            Cow::Borrowed(k) if self.len < self.first.len() => {
                self.first[self.len] = k;
                self.len += 1;
            }
            key => self.more.push(key),
        }
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Map<'de, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let Some(key) = self.map.next_key_seed(KeyText)? else {
            return Ok(None);
        };
        if self.keys.contains(&key) {
            return Err(de::Error::custom(format_args!("duplicate key `{key}`")));
        }
        let value = match &key {
            Cow::Borrowed(s) => {
                seed.deserialize(de::value::BorrowedStrDeserializer::<A::Error>::new(s))?
            }
            Cow::Owned(s) => seed.deserialize(de::value::StrDeserializer::<A::Error>::new(s))?,
        };
        self.keys.push(key);
        Ok(Some(value))
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        self.map.next_value_seed(Seed {
            seed,
            depth: self.depth,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

thread_local! {
    /// [`check_skipped`]'s keys (byte ranges) of the mappings being read, and where each
    /// mapping's keys start; kept between calls so that skipping allocates nothing.
    static SKIPPED: std::cell::RefCell<Skipped> = const {
        std::cell::RefCell::new(Skipped {
            keys: Vec::new(),
            starts: Vec::new(),
        })
    };
}

/// The scratch space of [`check_skipped`].
struct Skipped {
    keys: Vec<(usize, usize)>,
    starts: Vec<usize>,
}

/// Checks the text of a JSON value that `serde_json` skipped (so its syntax is valid) for what
/// the positioned reader refuses: a duplicate key in a mapping, or more than `depth` nested
/// mappings and sequences. A key written with an escape is not compared (the value is refused:
/// the positioned reader then decides).
fn check_skipped(text: &[u8], depth: usize) -> Result<(), &'static str> {
    SKIPPED.with(|s| {
        let Skipped { keys, starts } = &mut *s.borrow_mut();
        keys.clear();
        starts.clear();
        let result = scan_skipped(text, depth, keys, starts);
        keys.clear();
        starts.clear();
        result
    })
}

fn scan_skipped(
    text: &[u8],
    depth: usize,
    keys: &mut Vec<(usize, usize)>,
    starts: &mut Vec<usize>,
) -> Result<(), &'static str> {
    // The open sequences and mappings, innermost last (true: a mapping).
    let mut open: [bool; 64] = [false; 64];
    let mut len = 0usize;
    // Whether the next string is a key (right after `{` or after `,` in a mapping).
    let mut key_next = false;
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            c @ (b'{' | b'[') => {
                if len == depth {
                    return Err("nesting too deep");
                }
                if len == open.len() {
                    // Deeper than is worth scanning here: the positioned reader decides.
                    return Err("nesting too deep to skip");
                }
                open[len] = c == b'{';
                len += 1;
                if c == b'{' {
                    starts.push(keys.len());
                }
                key_next = c == b'{';
                i += 1;
            }
            c @ (b'}' | b']') => {
                len -= 1;
                if c == b'}' {
                    let start = starts.pop().unwrap_or(0);
                    keys.truncate(start);
                }
                key_next = false;
                i += 1;
            }
            b',' => {
                key_next = len > 0 && open[len - 1];
                i += 1;
            }
            b'"' => {
                let start = i + 1;
                let Some(end) = memchr::memchr2(b'"', b'\\', &text[start..]).map(|e| start + e)
                else {
                    return Err("unterminated string");
                };
                if text[end] == b'"' {
                    if key_next {
                        let key = &text[start..end];
                        let from = starts.last().copied().unwrap_or(0);
                        if keys[from..].iter().any(|&(a, b)| &text[a..b] == key) {
                            return Err("duplicate key");
                        }
                        keys.push((start, end));
                        key_next = false;
                    }
                    i = end + 1;
                } else if key_next {
                    return Err("a key with an escape");
                } else {
                    // A string with escapes: skip it escape by escape.
                    let mut j = end;
                    loop {
                        match text.get(j) {
                            Some(b'\\') => j += 2,
                            Some(b'"') => break,
                            Some(_) => j += 1,
                            None => return Err("unterminated string"),
                        }
                    }
                    i = j + 1;
                }
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// A mapping key as text (borrowed from the input when it has no escapes).
struct KeyText;

impl<'de> DeserializeSeed<'de> for KeyText {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(KeyText)
    }
}

impl<'de> Visitor<'de> for KeyText {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(s))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(s.to_string()))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(s))
    }
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
