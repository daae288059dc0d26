//! The lexer of the text form: turns characters into tokens on demand, with
//! 1-based line and column (in characters) for every token.
//!
//! Tokens are produced lazily so that the parser reports the first problem in
//! reading order, and so that the parser can read the body of a tensor type
//! (`2x?x3xf32`), which has its own micro-syntax, straight from the characters.

use super::ParseError;

/// One token.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// A bare word: keywords, op names (`tensor.add`), dtypes, `true`, `nan`.
    Ident(String),
    /// `%name`: an SSA value.
    Value(String),
    /// `@name` or `@"quoted name"`: a function name.
    Symbol(String),
    /// An integer literal, kept as text (its dtype decides the range).
    Int(String),
    /// A float literal, kept as text (`1.5`, `-2e-3`, `-inf`).
    Float(String),
    /// A string literal, escapes resolved.
    Str(String),
    LParen,
    RParen,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Less,
    Greater,
    Comma,
    Colon,
    Equal,
    Arrow,
    Eof,
}

impl Tok {
    /// How the token is named in "expected X, found Y" messages.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Value(s) => format!("value `%{s}`"),
            Tok::Symbol(s) => format!("symbol `@{s}`"),
            Tok::Int(s) | Tok::Float(s) => format!("number `{s}`"),
            Tok::Str(s) => format!("string {}", quote(s)),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::LBrace => "`{`".into(),
            Tok::RBrace => "`}`".into(),
            Tok::LBracket => "`[`".into(),
            Tok::RBracket => "`]`".into(),
            Tok::Less => "`<`".into(),
            Tok::Greater => "`>`".into(),
            Tok::Comma => "`,`".into(),
            Tok::Colon => "`:`".into(),
            Tok::Equal => "`=`".into(),
            Tok::Arrow => "`->`".into(),
            Tok::Eof => "end of input".into(),
        }
    }
}

/// A token and where it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub line: u32,
    pub col: u32,
}

/// Writes `s` as a string literal of the text form.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Characters allowed in `%name` and `@name` after the sigil, and in bare words
/// after the first character.
pub fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '$'
}

/// True when `s` can be written as a bare word (otherwise it is quoted).
pub fn is_bare_word(s: &str) -> bool {
    let mut cs = s.chars();
    matches!(cs.next(), Some(c) if c.is_ascii_alphabetic() || c == '_') && cs.all(is_name_char)
}

/// What [`Lexer::lex_type_body`] read.
pub struct TypeBody {
    /// Sizes, `?` as -1.
    pub dims: Vec<i64>,
    pub dtype: String,
    /// Line and column of the dtype name.
    pub dtype_loc: (u32, u32),
}

/// The lexer: a cursor over the characters of the input.
pub struct Lexer {
    chars: Vec<char>,
    pos: usize,
    line: u32,
    col: u32,
}

impl Lexer {
    pub fn new(src: &str) -> Self {
        // A byte-order mark some editors write is not part of the text.
        let src = src.strip_prefix('\u{feff}').unwrap_or(src);
        Lexer {
            chars: src.chars().collect(),
            pos: 0,
            line: 1,
            col: 1,
        }
    }

    pub fn loc(&self) -> (u32, u32) {
        (self.line, self.col)
    }

    fn err_here(&self, message: impl Into<String>) -> ParseError {
        ParseError::new(self.line, self.col, message)
    }

    pub fn peek_char(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_char_at(&self, k: usize) -> Option<char> {
        self.chars.get(self.pos + k).copied()
    }

    pub fn bump_char(&mut self) -> Option<char> {
        let c = self.chars.get(self.pos).copied()?;
        self.pos += 1;
        if c == '\n' {
            self.line = self.line.saturating_add(1);
            self.col = 1;
        } else {
            self.col = self.col.saturating_add(1);
        }
        Some(c)
    }

    /// Skips whitespace and `//` comments.
    pub fn skip_trivia(&mut self) {
        loop {
            match self.peek_char() {
                Some(c) if c.is_whitespace() => {
                    self.bump_char();
                }
                Some('/') if self.peek_char_at(1) == Some('/') => {
                    while let Some(c) = self.peek_char() {
                        if c == '\n' {
                            break;
                        }
                        self.bump_char();
                    }
                }
                _ => return,
            }
        }
    }

    fn take_while(&mut self, f: impl Fn(char) -> bool) -> String {
        let mut s = String::new();
        while let Some(c) = self.peek_char() {
            if !f(c) {
                break;
            }
            s.push(c);
            self.bump_char();
        }
        s
    }

    /// Reads the next token.
    pub fn next_token(&mut self) -> Result<Token, ParseError> {
        self.skip_trivia();
        let (line, col) = self.loc();
        let tok = self.lex_tok()?;
        Ok(Token { tok, line, col })
    }

    fn lex_tok(&mut self) -> Result<Tok, ParseError> {
        let Some(c) = self.peek_char() else {
            return Ok(Tok::Eof);
        };
        let punct = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            '{' => Some(Tok::LBrace),
            '}' => Some(Tok::RBrace),
            '[' => Some(Tok::LBracket),
            ']' => Some(Tok::RBracket),
            '<' => Some(Tok::Less),
            '>' => Some(Tok::Greater),
            ',' => Some(Tok::Comma),
            ':' => Some(Tok::Colon),
            '=' => Some(Tok::Equal),
            _ => None,
        };
        if let Some(t) = punct {
            self.bump_char();
            return Ok(t);
        }
        match c {
            '%' => {
                self.bump_char();
                let name = self.take_while(is_name_char);
                if name.is_empty() {
                    return Err(self.err_here("expected a value name after `%`"));
                }
                Ok(Tok::Value(name))
            }
            '@' => {
                self.bump_char();
                if self.peek_char() == Some('"') {
                    return Ok(Tok::Symbol(self.lex_string()?));
                }
                let name = self.take_while(is_name_char);
                if name.is_empty() {
                    return Err(self.err_here("expected a function name after `@`"));
                }
                Ok(Tok::Symbol(name))
            }
            '"' => Ok(Tok::Str(self.lex_string()?)),
            '-' => match self.peek_char_at(1) {
                Some('>') => {
                    self.bump_char();
                    self.bump_char();
                    Ok(Tok::Arrow)
                }
                Some(d) if d.is_ascii_digit() => self.lex_number(),
                Some('i')
                    if self.peek_char_at(2) == Some('n')
                        && self.peek_char_at(3) == Some('f')
                        && !self.peek_char_at(4).is_some_and(is_name_char) =>
                {
                    for _ in 0..4 {
                        self.bump_char();
                    }
                    Ok(Tok::Float("-inf".into()))
                }
                _ => Err(self.err_here("unexpected `-`: expected a number or `->`")),
            },
            c if c.is_ascii_digit() => self.lex_number(),
            c if c.is_ascii_alphabetic() || c == '_' => {
                Ok(Tok::Ident(self.take_while(is_name_char)))
            }
            c => Err(self.err_here(format!("unexpected character `{}`", c.escape_default()))),
        }
    }

    /// `-? digits (. digits*)? ([eE] [+-]? digits)?`
    fn lex_number(&mut self) -> Result<Tok, ParseError> {
        let mut s = String::new();
        if self.peek_char() == Some('-') {
            s.push('-');
            self.bump_char();
        }
        s.push_str(&self.take_while(|c| c.is_ascii_digit()));
        let mut is_float = false;
        if self.peek_char() == Some('.') {
            is_float = true;
            s.push('.');
            self.bump_char();
            s.push_str(&self.take_while(|c| c.is_ascii_digit()));
        }
        if matches!(self.peek_char(), Some('e' | 'E')) {
            let sign = matches!(self.peek_char_at(1), Some('+' | '-'));
            let digit_at = if sign { 2 } else { 1 };
            if self
                .peek_char_at(digit_at)
                .is_some_and(|c| c.is_ascii_digit())
            {
                is_float = true;
                for _ in 0..digit_at {
                    if let Some(c) = self.bump_char() {
                        s.push(c);
                    }
                }
                s.push_str(&self.take_while(|c| c.is_ascii_digit()));
            } else {
                return Err(self.err_here("expected digits in the exponent of a number"));
            }
        }
        Ok(if is_float { Tok::Float(s) } else { Tok::Int(s) })
    }

    /// A `"..."` literal with `\" \\ \n \t \r \u{hex}` escapes.
    fn lex_string(&mut self) -> Result<String, ParseError> {
        let (line, col) = self.loc();
        self.bump_char(); // the opening quote
        let mut s = String::new();
        loop {
            let here = self.loc();
            match self.bump_char() {
                None => {
                    return Err(ParseError::new(
                        line,
                        col,
                        "unterminated string: expected a closing `\"`",
                    ))
                }
                Some('"') => return Ok(s),
                Some('\\') => match self.bump_char() {
                    Some('"') => s.push('"'),
                    Some('\\') => s.push('\\'),
                    Some('n') => s.push('\n'),
                    Some('t') => s.push('\t'),
                    Some('r') => s.push('\r'),
                    Some('u') => {
                        if self.bump_char() != Some('{') {
                            return Err(ParseError::new(
                                here.0,
                                here.1,
                                "expected `{` after `\\u` in a string",
                            ));
                        }
                        let hex = self.take_while(|c| c.is_ascii_hexdigit());
                        if self.bump_char() != Some('}') {
                            return Err(ParseError::new(
                                here.0,
                                here.1,
                                "expected hex digits and `}` in a `\\u{...}` escape",
                            ));
                        }
                        let ch = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
                        match ch {
                            Some(ch) => s.push(ch),
                            None => {
                                return Err(ParseError::new(
                                    here.0,
                                    here.1,
                                    format!("`\\u{{{hex}}}` is not a character"),
                                ))
                            }
                        }
                    }
                    _ => {
                        return Err(ParseError::new(
                            here.0,
                            here.1,
                            "unknown escape in a string: expected one of \\\" \\\\ \\n \\t \\r \\u{...}",
                        ))
                    }
                },
                Some(c) => s.push(c),
            }
        }
    }

    /// Reads the body of a tensor type right after `tensor<`: `(dim x)* dtype >`,
    /// where a dim is digits or `?`. Returns the dims (`?` as -1) and the dtype name
    /// with its location.
    pub fn lex_type_body(&mut self) -> Result<TypeBody, ParseError> {
        let mut dims = Vec::new();
        loop {
            let here = self.loc();
            match self.peek_char() {
                Some('?') => {
                    self.bump_char();
                    dims.push(-1);
                }
                Some(c) if c.is_ascii_digit() => {
                    let digits = self.take_while(|c| c.is_ascii_digit());
                    let d: i64 = digits.parse().map_err(|_| {
                        ParseError::new(here.0, here.1, format!("dimension {digits} is too large"))
                    })?;
                    dims.push(d);
                }
                Some(c) if c.is_ascii_alphabetic() => {
                    let name = self.take_while(|c| c.is_ascii_alphanumeric());
                    if self.peek_char() != Some('>') {
                        return Err(self.err_here(format!(
                            "expected `>` after dtype `{name}` in tensor type"
                        )));
                    }
                    self.bump_char();
                    return Ok(TypeBody {
                        dims,
                        dtype: name,
                        dtype_loc: here,
                    });
                }
                _ => {
                    return Err(self.err_here(
                        "expected a dimension (digits or `?`) or a dtype in tensor type",
                    ))
                }
            }
            if self.peek_char() != Some('x') {
                return Err(self.err_here("expected `x` after dimension in tensor type"));
            }
            self.bump_char();
        }
    }
}
