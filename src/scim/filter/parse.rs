//! The filter grammar of RFC 7644 §3.4.2.2: the syntax tree ([`Filter`]), the lexer and the
//! recursive-descent parser, with the limits that keep a hostile filter cheap.
//!
//! Owns the tolerance real clients need in the text: unquoted values from Microsoft's examples
//! (`externalId eq jyoung`), `emails[type eq "work"].value eq "x"` meaning
//! `emails[type eq "work" and value eq "x"]`, keywords and operators in any case. It knows no
//! schema: whether the names exist and the values suit them is `check.rs`'s question.

use serde_json::Number;

use crate::scim::error::{ScimError, quote};
use crate::scim::path::{AttrPath, is_attr_name, parse_attr_path};

/// Longest filter accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 4096;
/// Deepest nesting of parentheses, `not` and value paths.
pub const MAX_DEPTH: usize = 32;
/// Most comparisons (including `pr`) in one filter.
pub const MAX_TERMS: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    pub fn as_str(&self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    fn parse(word: &str) -> Option<CompareOp> {
        const ALL: [CompareOp; 9] = [
            CompareOp::Eq,
            CompareOp::Ne,
            CompareOp::Co,
            CompareOp::Sw,
            CompareOp::Ew,
            CompareOp::Gt,
            CompareOp::Ge,
            CompareOp::Lt,
            CompareOp::Le,
        ];
        ALL.into_iter().find(|op| op.as_str().eq_ignore_ascii_case(word))
    }

    pub(super) fn is_substring(&self) -> bool {
        matches!(self, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
    }

    pub(super) fn is_ordering(&self) -> bool {
        matches!(self, CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le)
    }
}

/// The literal on the right of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    Str(String),
    Num(Number),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: CompValue,
    },
    Present(AttrPath),
    /// `attr[filter]`: the inner filter's attribute names are sub-attributes of `attr`.
    ValuePath {
        attr: AttrPath,
        filter: Box<Filter>,
    },
}

impl Filter {
    /// Every attribute the filter reads, as full paths (`emails[type eq "work"]` reads
    /// `emails.type`), so the service knows whether it must load `members` or `groups`.
    pub fn attributes(&self) -> Vec<AttrPath> {
        let mut out = Vec::new();
        self.collect_attributes(None, &mut out);
        out
    }

    fn collect_attributes(&self, parent: Option<&AttrPath>, out: &mut Vec<AttrPath>) {
        match self {
            Filter::And(a, b) | Filter::Or(a, b) => {
                a.collect_attributes(parent, out);
                b.collect_attributes(parent, out);
            }
            Filter::Not(a) => a.collect_attributes(parent, out),
            Filter::Compare { path, .. } | Filter::Present(path) => out.push(match parent {
                None => path.clone(),
                Some(p) => AttrPath {
                    schema: p.schema.clone(),
                    attr: p.attr.clone(),
                    sub: Some(path.attr.clone()),
                },
            }),
            Filter::ValuePath { attr, filter } => filter.collect_attributes(Some(attr), out),
        }
    }
}

/// Parses a filter. Every problem is `invalidFilter`; nothing here panics or recurses
/// deeper than [`MAX_DEPTH`].
pub fn parse(s: &str) -> Result<Filter, ScimError> {
    Parser::new(s, false)?.parse_all()
}

/// Parses the filter inside a PATCH path's brackets (`type eq "work"` in
/// `emails[type eq "work"]`): the same grammar without nested value paths.
pub fn parse_value_filter(s: &str) -> Result<Filter, ScimError> {
    Parser::new(s, true)?.parse_all()
}

#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    LParen,
    RParen,
    LBracket,
    RBracket,
    /// A run of characters up to whitespace, a bracket or a quote: an attribute path, an
    /// operator, a keyword or an unquoted value.
    Word(&'a str),
    /// A JSON string literal, already unescaped.
    Str(String),
}

impl Tok<'_> {
    fn describe(&self) -> String {
        match self {
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::LBracket => "'['".into(),
            Tok::RBracket => "']'".into(),
            Tok::Word(w) => quote(w),
            Tok::Str(s) => format!("the string {}", quote(s)),
        }
    }
}

fn lex(s: &str) -> Result<Vec<Tok<'_>>, ScimError> {
    let mut toks = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | '[' | ']' => {
                chars.next();
                toks.push(match c {
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    '[' => Tok::LBracket,
                    _ => Tok::RBracket,
                });
            }
            '"' => {
                chars.next();
                let mut escaped = false;
                let end = chars.find(|&(_, c)| {
                    let closes = c == '"' && !escaped;
                    escaped = c == '\\' && !escaped;
                    closes
                });
                let Some((end, _)) = end else {
                    return Err(ScimError::invalid_filter(format!(
                        "a quoted value starting at {} is never closed with '\"'",
                        quote(s.get(start..).unwrap_or(""))
                    )));
                };
                let literal = s.get(start..=end).unwrap_or("");
                let text: String = serde_json::from_str(literal).map_err(|_| {
                    ScimError::invalid_filter(format!(
                        "{} is not a valid JSON string (check its backslash escapes)",
                        quote(literal)
                    ))
                })?;
                toks.push(Tok::Str(text));
            }
            _ => {
                let mut end = s.len();
                while let Some(&(i, c)) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"') {
                        end = i;
                        break;
                    }
                    chars.next();
                }
                toks.push(Tok::Word(s.get(start..end).unwrap_or("")));
            }
        }
    }
    Ok(toks)
}

struct Parser<'a> {
    toks: Vec<Tok<'a>>,
    pos: usize,
    depth: usize,
    terms: usize,
    /// True inside `[...]` (and for a PATCH path's filter): value paths may not nest.
    in_value_path: bool,
}

impl<'a> Parser<'a> {
    fn new(s: &'a str, in_value_path: bool) -> Result<Self, ScimError> {
        if s.len() > MAX_FILTER_LEN {
            return Err(ScimError::invalid_filter(format!(
                "the filter is {} bytes long; at most {MAX_FILTER_LEN} are accepted",
                s.len()
            )));
        }
        Ok(Parser { toks: lex(s)?, pos: 0, depth: 0, terms: 0, in_value_path })
    }

    fn parse_all(mut self) -> Result<Filter, ScimError> {
        if self.toks.is_empty() {
            return Err(ScimError::invalid_filter("the filter is empty"));
        }
        let f = self.parse_or()?;
        match self.peek() {
            None => Ok(f),
            Some(t) => Err(ScimError::invalid_filter(format!(
                "unexpected {} after a complete filter expression (a missing 'and'/'or', \
                 or an unbalanced ')' or ']'?)",
                t.describe()
            ))),
        }
    }

    fn peek(&self) -> Option<&Tok<'a>> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok<'a>> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn peek_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn found(t: Option<&Tok<'_>>) -> String {
        t.map_or_else(|| "the end of the filter".to_string(), Tok::describe)
    }

    fn expect(&mut self, want: Tok<'static>, what: &str) -> Result<(), ScimError> {
        match self.next() {
            Some(t) if t == want => Ok(()),
            t => Err(ScimError::invalid_filter(format!(
                "expected {what}, found {}",
                Self::found(t.as_ref())
            ))),
        }
    }

    fn enter(&mut self) -> Result<(), ScimError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ScimError::invalid_filter(format!(
                "the filter nests parentheses, 'not' or [...] more than {MAX_DEPTH} levels deep"
            )));
        }
        Ok(())
    }

    fn count_term(&mut self) -> Result<(), ScimError> {
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(ScimError::invalid_filter(format!(
                "the filter has more than {MAX_TERMS} comparisons"
            )));
        }
        Ok(())
    }

    // `and` binds tighter than `or`; both are left-associative and parsed by iteration, so
    // long chains do not consume stack.
    fn parse_or(&mut self) -> Result<Filter, ScimError> {
        self.parse_chain("or", Self::parse_and, Filter::Or)
    }

    fn parse_and(&mut self) -> Result<Filter, ScimError> {
        self.parse_chain("and", Self::parse_unary, Filter::And)
    }

    /// `operand (keyword operand)*`, folded to the left with `join`.
    fn parse_chain(
        &mut self,
        keyword: &str,
        operand: fn(&mut Self) -> Result<Filter, ScimError>,
        join: fn(Box<Filter>, Box<Filter>) -> Filter,
    ) -> Result<Filter, ScimError> {
        let mut left = operand(self)?;
        while self.peek_keyword(keyword) {
            self.pos += 1;
            let right = operand(self)?;
            left = join(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_unary(&mut self) -> Result<Filter, ScimError> {
        match self.next() {
            Some(Tok::LParen) => {
                self.enter()?;
                let f = self.parse_or()?;
                self.expect(Tok::RParen, "')' to close '('")?;
                self.depth -= 1;
                Ok(f)
            }
            // RFC 7644 writes `not (...)`; a parenthesis-free `not title pr` is accepted too,
            // since it is unambiguous.
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("not") => {
                self.enter()?;
                let f = self.parse_unary()?;
                self.depth -= 1;
                Ok(Filter::Not(Box::new(f)))
            }
            Some(Tok::Word(w)) => self.parse_attr_expr(w),
            t => Err(ScimError::invalid_filter(format!(
                "expected an attribute name, '(' or 'not', found {}",
                Self::found(t.as_ref())
            ))),
        }
    }

    fn parse_attr_expr(&mut self, word: &str) -> Result<Filter, ScimError> {
        let path = parse_attr_path(word).map_err(|e| ScimError::invalid_filter(e.detail))?;
        if self.peek() != Some(&Tok::LBracket) {
            return self.parse_comparison(path);
        }
        self.pos += 1;
        if self.in_value_path {
            return Err(ScimError::invalid_filter(format!(
                "{} opens a second [...] inside a value filter; they cannot be nested",
                quote(word)
            )));
        }
        if path.sub.is_some() {
            return Err(ScimError::invalid_filter(format!(
                "{} is a sub-attribute; [...] filters follow an attribute such as emails",
                quote(word)
            )));
        }
        self.enter()?;
        self.in_value_path = true;
        let mut inner = self.parse_or()?;
        self.expect(Tok::RBracket, "']' to close '['")?;
        self.in_value_path = false;
        self.depth -= 1;
        // Microsoft's matching rules send `emails[type eq "work"].value eq "x"`, meaning
        // `emails[type eq "work" and value eq "x"]`.
        if let Some(Tok::Word(w)) = self.peek()
            && let Some(sub) = w.strip_prefix('.')
        {
            if !is_attr_name(sub) {
                return Err(ScimError::invalid_filter(format!(
                    "{} after ']' is not a sub-attribute name",
                    quote(w)
                )));
            }
            let sub = AttrPath { schema: None, attr: sub.to_string(), sub: None };
            self.pos += 1;
            let term = self.parse_comparison(sub)?;
            inner = Filter::And(Box::new(inner), Box::new(term));
        }
        Ok(Filter::ValuePath { attr: path, filter: Box::new(inner) })
    }

    fn parse_comparison(&mut self, path: AttrPath) -> Result<Filter, ScimError> {
        self.count_term()?;
        let op_word = match self.next() {
            Some(Tok::Word(w)) => w,
            t => {
                return Err(ScimError::invalid_filter(format!(
                    "expected an operator after {}, found {}",
                    quote(&path.to_string()),
                    Self::found(t.as_ref())
                )));
            }
        };
        if op_word.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present(path));
        }
        let op = CompareOp::parse(op_word).ok_or_else(|| {
            ScimError::invalid_filter(format!(
                "unknown operator {} after {}; use eq, ne, co, sw, ew, gt, ge, lt, le or pr",
                quote(op_word),
                quote(&path.to_string())
            ))
        })?;
        let value = match self.next() {
            Some(Tok::Str(s)) => CompValue::Str(s),
            Some(Tok::Word(w)) => bare_value(w),
            t => {
                return Err(ScimError::invalid_filter(format!(
                    "missing value after '{path} {}': expected a quoted string, a number, \
                     true, false or null, found {}",
                    op.as_str(),
                    Self::found(t.as_ref())
                )));
            }
        };
        Ok(Filter::Compare { path, op, value })
    }
}

/// An unquoted value: a JSON literal or number, else (as in Microsoft's own examples,
/// `externalId eq jyoung`) a string.
fn bare_value(w: &str) -> CompValue {
    if w.eq_ignore_ascii_case("true") {
        CompValue::Bool(true)
    } else if w.eq_ignore_ascii_case("false") {
        CompValue::Bool(false)
    } else if w.eq_ignore_ascii_case("null") {
        CompValue::Null
    } else if let Ok(n) = w.parse::<Number>() {
        CompValue::Num(n)
    } else {
        CompValue::Str(w.to_string())
    }
}
