//! A strict JSON reader over one text: a reply, for the decoder, or the
//! schema cache file.
//!
//! The decoder walks a reply once and turns it straight into identity-map
//! slots (and the schema cache is read straight into a [`crate::schema::Schema`]);
//! this reader gives them the tokens with nothing in between: strings
//! without escapes are borrowed from the text, object keys and values come as
//! the caller asks for them, and nothing is built that the caller does not
//! keep. It accepts exactly RFC 8259 JSON, as `serde_json` does (the tests
//! compare the two): no trailing commas, no comments, no control characters
//! in strings, no lone surrogates, numbers by the grammar, at most
//! [`MAX_DEPTH`] levels of nesting (so a hostile reply cannot exhaust the
//! stack). The reply is checked as UTF-8 once, before reading.

use std::fmt;

/// The deepest nesting of arrays and objects a reply may have (as deep as
/// serde_json reads).
pub(crate) const MAX_DEPTH: u32 = 127;

/// Why a reply could not be read, and at which byte. Boxed, so that the
/// results the decoder passes around stay as small as their values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Error(Box<(String, usize)>);

impl Error {
    /// An error about the reply at byte `at`.
    pub(crate) fn new(what: impl Into<String>, at: usize) -> Error {
        Error(Box::new((what.into(), at)))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.0.0, self.0.1)
    }
}

impl std::error::Error for Error {}

/// A result of reading.
pub(crate) type Result<T> = std::result::Result<T, Error>;

/// A JSON number as the decoder keeps it: an integer when it is one and fits
/// 64 bits, a float otherwise (as serde_json reads numbers).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Number {
    /// An integer that fits `i64`.
    Int(i64),
    /// Anything else: a fraction, an exponent, or an integer out of range.
    Float(f64),
}

/// What the next value is, by its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// `{`
    Object,
    /// `[`
    Array,
    /// `"`
    String,
    /// `-` or a digit.
    Number,
    /// `true` or `false`.
    Bool,
    /// `null`
    Null,
}

/// What [`Reader::next_key_guessed`] read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Key<'r> {
    /// The end of the object.
    End,
    /// The key guessed.
    Guessed,
    /// Another key.
    Other(&'r str),
}

/// A reader positioned in a reply.
pub(crate) struct Reader<'a> {
    text: &'a str,
    pos: usize,
    depth: u32,
    /// The unescaped text of the last string that had escapes.
    unescaped: String,
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `w` that is zero, exact for the lowest one.
#[inline]
fn zero_bytes(w: u64) -> u64 {
    w.wrapping_sub(ONES) & !w & HIGHS
}

/// The position of the first `"`, `\` or control character in `b` from `i`,
/// or `b.len()`: eight bytes at a time.
#[inline]
fn string_end(b: &[u8], mut i: usize) -> usize {
    while let Some(chunk) = b.get(i..i + 8) {
        let w = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let hits = zero_bytes(w ^ (ONES * u64::from(b'"')))
            | zero_bytes(w ^ (ONES * u64::from(b'\\')))
            | (w.wrapping_sub(ONES * 0x20) & !w & HIGHS);
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < b.len() && !matches!(b[i], b'"' | b'\\' | 0..=0x1f) {
        i += 1;
    }
    i
}

/// Whether `a` and `b` hold the same bytes: for the short keys and names a
/// reply repeats, two overlapping word loads instead of a call to `memcmp`
/// (which was a twentieth of decoding a page, called once per guessed key).
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], i: usize| u64::from_le_bytes(s[i..i + 8].try_into().expect("8 bytes"));
    let half = |s: &[u8], i: usize| u32::from_le_bytes(s[i..i + 4].try_into().expect("4 bytes"));
    match n {
        0..=3 => a.iter().zip(b).all(|(x, y)| x == y),
        4..=8 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        9..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
}

impl<'a> Reader<'a> {
    /// A reader at the start of `text`.
    pub(crate) fn new(text: &'a str) -> Reader<'a> {
        Reader {
            text,
            pos: 0,
            depth: 0,
            unescaped: String::new(),
        }
    }

    #[inline]
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// An error at the current position.
    pub(crate) fn error(&self, what: impl Into<String>) -> Error {
        Error::new(what, self.pos)
    }

    fn unexpected(&self, wanted: &str) -> Error {
        match self.bytes().get(self.pos) {
            None => self.error(format!("the reply ends where {wanted} was expected")),
            Some(&c) if c.is_ascii_graphic() => {
                self.error(format!("expected {wanted}, found `{}`", c as char))
            }
            Some(&c) => self.error(format!("expected {wanted}, found byte {c:#04x}")),
        }
    }

    #[inline]
    fn skip_space(&mut self) {
        let b = self.bytes();
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = b.get(self.pos) {
            self.pos += 1;
        }
    }

    /// After the value: only white space may follow.
    pub(crate) fn end(&mut self) -> Result<()> {
        self.skip_space();
        if self.pos == self.text.len() {
            Ok(())
        } else {
            Err(self.error("unexpected data after the reply"))
        }
    }

    /// What the next value is, without reading it.
    pub(crate) fn peek(&mut self) -> Result<Next> {
        self.skip_space();
        Ok(match self.bytes().get(self.pos) {
            Some(b'{') => Next::Object,
            Some(b'[') => Next::Array,
            Some(b'"') => Next::String,
            Some(b'-' | b'0'..=b'9') => Next::Number,
            Some(b't' | b'f') => Next::Bool,
            Some(b'n') => Next::Null,
            _ => return Err(self.unexpected("a value")),
        })
    }

    /// Reads `{`: then [`Reader::next_key`] until it says the object ended.
    pub(crate) fn begin_object(&mut self) -> Result<()> {
        self.open(b'{', "`{`")
    }

    /// Reads the `{` or `[` that opens a container, one level deeper.
    fn open(&mut self, bracket: u8, what: &str) -> Result<()> {
        self.skip_space();
        if self.bytes().get(self.pos) != Some(&bracket) {
            return Err(self.unexpected(what));
        }
        self.pos += 1;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    /// The next key of the object being read (its value is to be read next),
    /// or `None` at its end. `first` says whether no key was read yet.
    pub(crate) fn next_key(&mut self, first: bool) -> Result<Option<&str>> {
        self.skip_space();
        match self.bytes().get(self.pos) {
            Some(b'}') => {
                self.pos += 1;
                self.depth -= 1;
                return Ok(None);
            }
            Some(b',') if !first => {
                self.pos += 1;
                self.skip_space();
            }
            _ if first => {}
            _ => return Err(self.unexpected("`,` or `}`")),
        }
        if self.bytes().get(self.pos) != Some(&b'"') {
            return Err(self.unexpected("a key"));
        }
        let range = self.string_range()?;
        self.skip_space();
        if self.bytes().get(self.pos) != Some(&b':') {
            return Err(self.unexpected("`:`"));
        }
        self.pos += 1;
        Ok(Some(self.resolve(range)))
    }

    /// [`Reader::next_key`] when the key is likely `guess`: `Ok(Key::Guessed)`
    /// when it is, found by comparing the bytes of the reply with the guess
    /// rather than reading a string (a reply repeats the same keys in the
    /// same order, object after object).
    pub(crate) fn next_key_guessed(&mut self, first: bool, guess: &str) -> Result<Key<'_>> {
        self.skip_space();
        let b = self.bytes();
        let quote = match b.get(self.pos) {
            Some(b'"') if first => Some(self.pos),
            Some(b',') if !first => {
                let mut q = self.pos + 1;
                while let Some(b' ' | b'\n' | b'\r' | b'\t') = b.get(q) {
                    q += 1;
                }
                Some(q)
            }
            _ => None,
        };
        if let Some(q) = quote {
            let end = q + 1 + guess.len();
            if b.get(q) == Some(&b'"')
                && b.get(q + 1..end)
                    .is_some_and(|text| same_bytes(text, guess.as_bytes()))
                && b.get(end) == Some(&b'"')
            {
                self.pos = end + 1;
                self.skip_space();
                if self.bytes().get(self.pos) != Some(&b':') {
                    return Err(self.unexpected("`:`"));
                }
                self.pos += 1;
                return Ok(Key::Guessed);
            }
        }
        Ok(match self.next_key(first)? {
            Some(k) => Key::Other(k),
            None => Key::End,
        })
    }

    /// Reads `[`: then [`Reader::next_element`] before each element.
    pub(crate) fn begin_array(&mut self) -> Result<()> {
        self.open(b'[', "`[`")
    }

    /// Whether another element follows in the array being read (then it is to
    /// be read next); `first` says whether no element was read yet.
    pub(crate) fn next_element(&mut self, first: bool) -> Result<bool> {
        self.skip_space();
        match self.bytes().get(self.pos) {
            Some(b']') => {
                self.pos += 1;
                self.depth -= 1;
                Ok(false)
            }
            Some(b',') if !first => {
                self.pos += 1;
                Ok(true)
            }
            _ if first => Ok(true),
            _ => Err(self.unexpected("`,` or `]`")),
        }
    }

    /// Reads a string: borrowed from the reply when it has no escapes.
    pub(crate) fn string(&mut self) -> Result<&str> {
        Ok(match self.string_in_reply()? {
            Some(text) => text,
            None => &self.unescaped,
        })
    }

    /// Reads a string: `Some` with its text, borrowed for as long as the
    /// reply, when it has no escapes; `None` when it had escapes, its text
    /// then being [`Reader::unescaped`] until the next string is read.
    pub(crate) fn string_in_reply(&mut self) -> Result<Option<&'a str>> {
        self.skip_space();
        if self.bytes().get(self.pos) != Some(&b'"') {
            return Err(self.unexpected("a string"));
        }
        let text = self.text;
        Ok(self.string_range()?.map(|(start, end)| &text[start..end]))
    }

    /// The text of the last string read that had escapes.
    pub(crate) fn unescaped(&self) -> &str {
        &self.unescaped
    }

    /// Reads a string that is likely `guess`: `None` when it is (compared
    /// with the bytes of the reply, not read), its text otherwise.
    pub(crate) fn string_guessed(&mut self, guess: &str) -> Result<Option<&str>> {
        self.skip_space();
        let b = self.bytes();
        let end = self.pos + 1 + guess.len();
        if b.get(self.pos) == Some(&b'"')
            && b.get(self.pos + 1..end)
                .is_some_and(|text| same_bytes(text, guess.as_bytes()))
            && b.get(end) == Some(&b'"')
        {
            self.pos = end + 1;
            return Ok(None);
        }
        self.string().map(Some)
    }

    /// The text of a string read by [`Reader::string_range`].
    #[inline]
    fn resolve(&self, range: Option<(usize, usize)>) -> &str {
        match range {
            Some((start, end)) => &self.text[start..end],
            None => &self.unescaped,
        }
    }

    /// Reads the string at `pos` (its `"`): its range in the reply when it has
    /// no escapes, `None` when its text is in `unescaped`.
    fn string_range(&mut self) -> Result<Option<(usize, usize)>> {
        let b = self.bytes();
        let start = self.pos + 1;
        let mut i = string_end(b, start);
        match b.get(i) {
            Some(b'"') => {
                self.pos = i + 1;
                return Ok(Some((start, i)));
            }
            Some(b'\\') => {}
            Some(_) => return Err(Error::new("a control character in a string", i)),
            None => return Err(Error::new("a string is not closed", b.len())),
        }
        self.unescaped.clear();
        let mut run = start;
        loop {
            match b.get(i) {
                Some(b'"') => {
                    self.unescaped.push_str(&self.text[run..i]);
                    self.pos = i + 1;
                    return Ok(None);
                }
                Some(b'\\') => {
                    self.unescaped.push_str(&self.text[run..i]);
                    i = self.escape(i)?;
                    run = i;
                }
                Some(_) => return Err(Error::new("a control character in a string", i)),
                None => return Err(Error::new("a string is not closed", b.len())),
            }
            i = string_end(b, i);
        }
    }

    /// Unescapes the escape at `i` (its `\`) onto `unescaped`; returns the
    /// position after it.
    fn escape(&mut self, i: usize) -> Result<usize> {
        let b = self.bytes();
        let c = match b.get(i + 1) {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let (c, next) = self.unicode_escape(i)?;
                self.unescaped.push(c);
                return Ok(next);
            }
            Some(_) => return Err(Error::new("an invalid escape in a string", i)),
            None => return Err(Error::new("a string is not closed", b.len())),
        };
        self.unescaped.push(c);
        Ok(i + 2)
    }

    /// The four hex digits of `\uXXXX` at `i` (its `\`).
    fn hex4(&self, i: usize) -> Result<u32> {
        let digits = self
            .bytes()
            .get(i + 2..i + 6)
            .ok_or_else(|| Error::new("a string is not closed", self.text.len()))?;
        digits.iter().try_fold(0u32, |n, &d| {
            let v = (d as char)
                .to_digit(16)
                .ok_or_else(|| Error::new("an invalid \\u escape in a string", i))?;
            Ok(n * 16 + v)
        })
    }

    /// A `\uXXXX` escape at `i`, with the second half of a surrogate pair.
    fn unicode_escape(&self, i: usize) -> Result<(char, usize)> {
        let first = self.hex4(i)?;
        if let Some(c) = char::from_u32(first) {
            return Ok((c, i + 6));
        }
        if (0xDC00..0xE000).contains(&first) {
            return Err(Error::new("a lone trailing surrogate in a string", i));
        }
        if self.bytes().get(i + 6..i + 8) != Some(b"\\u") {
            return Err(Error::new("a lone leading surrogate in a string", i));
        }
        let second = self.hex4(i + 6)?;
        if !(0xDC00..0xE000).contains(&second) {
            return Err(Error::new("a lone leading surrogate in a string", i));
        }
        let c = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
        let c = char::from_u32(c).expect("a surrogate pair is a char");
        Ok((c, i + 12))
    }

    /// Reads a number.
    pub(crate) fn number(&mut self) -> Result<Number> {
        self.skip_space();
        let b = self.bytes();
        let start = self.pos;
        let mut i = start;
        let negative = b.get(i) == Some(&b'-');
        if negative {
            i += 1;
        }
        let digits = i;
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                while let Some(b'0'..=b'9') = b.get(i) {
                    i += 1;
                }
            }
            _ => {
                self.pos = i;
                return Err(self.unexpected("a digit"));
            }
        }
        let mut integer = true;
        if b.get(i) == Some(&b'.') {
            integer = false;
            i += 1;
            if !matches!(b.get(i), Some(b'0'..=b'9')) {
                return Err(Error::new("a number has no digit after its `.`", i));
            }
            while let Some(b'0'..=b'9') = b.get(i) {
                i += 1;
            }
        }
        if let Some(b'e' | b'E') = b.get(i) {
            integer = false;
            i += 1;
            if let Some(b'+' | b'-') = b.get(i) {
                i += 1;
            }
            if !matches!(b.get(i), Some(b'0'..=b'9')) {
                return Err(Error::new("a number has no digit in its exponent", i));
            }
            while let Some(b'0'..=b'9') = b.get(i) {
                i += 1;
            }
        }
        self.pos = i;
        if integer && i - digits <= 18 {
            // At most 18 digits always fit an i64.
            let n = b[digits..i]
                .iter()
                .fold(0i64, |n, &d| n * 10 + i64::from(d - b'0'));
            return Ok(match (negative, n) {
                // As serde_json reads it.
                (true, 0) => Number::Float(-0.0),
                (true, n) => Number::Int(-n),
                (false, n) => Number::Int(n),
            });
        }
        let text = &self.text[start..i];
        if integer && let Ok(n) = text.parse::<i64>() {
            return Ok(Number::Int(n));
        }
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Number::Float(f)),
            _ => Err(Error::new("a number out of range", start)),
        }
    }

    /// Reads `true` or `false`.
    pub(crate) fn bool(&mut self) -> Result<bool> {
        self.skip_space();
        if self.text[self.pos..].starts_with("true") {
            self.pos += 4;
            Ok(true)
        } else if self.text[self.pos..].starts_with("false") {
            self.pos += 5;
            Ok(false)
        } else {
            Err(self.unexpected("`true` or `false`"))
        }
    }

    /// Reads `null`.
    pub(crate) fn null(&mut self) -> Result<()> {
        self.skip_space();
        if self.text[self.pos..].starts_with("null") {
            self.pos += 4;
            Ok(())
        } else {
            Err(self.unexpected("`null`"))
        }
    }

    /// Reads and checks a value of any kind, keeping nothing.
    pub(crate) fn skip(&mut self) -> Result<()> {
        match self.peek()? {
            Next::Object => {
                self.begin_object()?;
                let mut first = true;
                while self.next_key(first)?.is_some() {
                    first = false;
                    self.skip()?;
                }
            }
            Next::Array => {
                self.begin_array()?;
                let mut first = true;
                while self.next_element(first)? {
                    first = false;
                    self.skip()?;
                }
            }
            Next::String => {
                self.string_range()?;
            }
            Next::Number => {
                self.number()?;
            }
            Next::Bool => {
                self.bool()?;
            }
            Next::Null => self.null()?,
        }
        Ok(())
    }

    /// Reads a value of any kind as a `serde_json::Value` (for the few parts
    /// of a reply that are kept as plain JSON: metadata, error objects).
    pub(crate) fn json(&mut self) -> Result<serde_json::Value> {
        self.skip_space();
        let start = self.pos;
        self.skip()?;
        // Checked by `skip`, so serde_json accepts it as well.
        serde_json::from_str(&self.text[start..self.pos])
            .map_err(|e| Error::new(e.to_string(), start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads one whole document as JSON.
    fn read(text: &str) -> Result<serde_json::Value> {
        let mut r = Reader::new(text);
        let v = r.json()?;
        r.end()?;
        Ok(v)
    }

    /// A small deterministic generator (xorshift).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    const SAMPLES: &[&str] = &[
        r#"[{"action":"query","data":[{"__entity_type__":"User","id":"a-1","n":-12.5e-3,"ok":true,"x":null,"l":[1,2,{"k":"v"}]}],"metadata":{"next":{"offset":500}}}]"#,
        r#"{"exception":"ValidationError","content":"bad \"thing\"\n\u00e9\ud83d\ude00","error_code":null}"#,
        "[ 0 , -0 , 1E5 , 2e+3 , 3.25 , 18446744073709551616 , -9223372036854775808 , 9223372036854775807 ]",
        r#"{"a":{"b":{"c":[[[]]],"d":{}}},"e":"\/\b\f\r\t\\"}"#,
        "\"plain text with 😀 and é\"",
    ];

    /// Bytes that turn valid JSON into invalid JSON, or into other valid JSON.
    const NOISE: &[&str] = &[
        "",
        ",",
        ":",
        "{",
        "}",
        "[",
        "]",
        "\"",
        "\\",
        "\\u",
        "\\ud800",
        "\\udc00",
        "0",
        "-",
        ".",
        "e",
        "+",
        "01",
        "1.",
        "1e",
        "tru",
        "nul",
        " ",
        "\u{1}",
        "\t",
        "\u{7f}",
        "é",
        "1e400",
        "-1e400",
        "99999999999999999999",
        "\\x",
    ];

    #[test]
    fn accepts_and_rejects_what_serde_json_does() {
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        let (mut accepted, mut rejected) = (0, 0);
        for round in 0..40_000 {
            let mut text = SAMPLES[round % SAMPLES.len()].to_owned();
            for _ in 0..1 + rng.below(3) {
                let mut at = rng.below(text.len() + 1);
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                let cut = text[at..]
                    .chars()
                    .take(rng.below(3))
                    .map(char::len_utf8)
                    .sum::<usize>();
                let noise = NOISE[rng.below(NOISE.len())];
                text.replace_range(at..at + cut, noise);
            }
            let theirs = serde_json::from_str::<serde_json::Value>(&text);
            let ours = read(&text);
            match (&ours, &theirs) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(a, b, "{text:?}");
                    accepted += 1;
                }
                (Err(_), Err(_)) => rejected += 1,
                _ => panic!("{text:?}: ours {ours:?}, serde_json {theirs:?}"),
            }
        }
        // Both outcomes were exercised, many times.
        assert!(
            accepted > 2_000 && rejected > 2_000,
            "{accepted} {rejected}"
        );
    }

    #[test]
    fn same_bytes_agrees_with_slice_equality() {
        let words: Vec<Vec<u8>> = (0..40)
            .map(|n| (0..n).map(|i| b'a' + (i % 26) as u8).collect())
            .collect();
        for a in &words {
            for b in &words {
                assert_eq!(same_bytes(a, b), a == b);
            }
            // Each byte changed in turn, first and last included.
            for i in 0..a.len() {
                let mut c = a.clone();
                c[i] ^= 0x20;
                assert!(!same_bytes(a, &c), "{:?} vs {:?}", a, c);
                assert!(same_bytes(&c, &c.clone()));
            }
        }
    }

    #[test]
    fn strings_numbers_and_nesting() {
        let mut r = Reader::new(r#" "a\"b\u00e9\ud83d\ude00" "#);
        assert_eq!(r.string().unwrap(), "a\"bé😀");
        let unquoted = "x".repeat(40);
        assert!(Reader::new(&unquoted).string().is_err());
        let text = format!("\"{}\"", "abcdefgh".repeat(5));
        let mut r = Reader::new(&text);
        assert_eq!(r.string().unwrap().len(), 40);
        for (text, n) in [
            ("0", Number::Int(0)),
            ("-7", Number::Int(-7)),
            ("123456789012345678", Number::Int(123_456_789_012_345_678)),
            ("-9223372036854775808", Number::Int(i64::MIN)),
            (
                "9223372036854775808",
                Number::Float(9_223_372_036_854_775_808.0),
            ),
            ("2.5", Number::Float(2.5)),
            ("-1e2", Number::Float(-100.0)),
        ] {
            assert_eq!(Reader::new(text).number().unwrap(), n, "{text}");
        }
        for depth in 125..130 {
            let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            let theirs = serde_json::from_str::<serde_json::Value>(&nested);
            assert_eq!(read(&nested).is_ok(), theirs.is_ok(), "{depth}");
            assert_eq!(read(&nested).is_ok(), depth <= 127, "{depth}");
        }
        let e = read(&"[".repeat(200)).unwrap_err();
        assert_eq!(e.to_string(), "nested deeper than 127 levels at byte 128");
        let e = read("[1,]").unwrap_err();
        assert_eq!(e.to_string(), "expected a value, found `]` at byte 3");
        let e = read("{\"a\":1} x").unwrap_err();
        assert_eq!(e.to_string(), "unexpected data after the reply at byte 8");
    }
}
