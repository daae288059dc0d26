//! FileCheck: checks a program's output against directives written in a
//! test file, with LLVM FileCheck's directive names and pattern syntax.
//!
//! Directives (the prefix is `CHECK` unless another is given; a directive is
//! recognized anywhere on a line, so `// CHECK: ...` works in `.pir` files):
//! - `CHECK: p` — `p` matches at or after the current position.
//! - `CHECK-NEXT: p` — `p` matches on the line right after the previous match.
//! - `CHECK-SAME: p` — `p` matches on the line of the previous match, after it.
//! - `CHECK-EMPTY:` — the line after the previous match is empty.
//! - `CHECK-NOT: p` — `p` does not match between the previous match and the
//!   next positive match (or the end of the region).
//! - `CHECK-DAG: p` — consecutive DAG directives match in any order, without
//!   overlapping, after the previous match.
//! - `CHECK-LABEL: p` — matched first, in order, over the whole input; they
//!   cut the input into regions, and the other directives between two labels
//!   only look inside the region between their matches.
//!
//! Patterns are literal text, except `{{regex}}` (a regular expression of
//! the `regex` crate), `[[NAME:regex]]` (matches `regex` and binds NAME to the
//! matched text), `[[NAME]]` (the text bound earlier, matched literally) and
//! `[[@LINE]]`, `[[@LINE+N]]`, `[[@LINE-N]]` (the number of the check file's
//! line holding the directive, plus or minus N: for errors that name a line).
//! A run of spaces or tabs in literal text matches any non-empty run of
//! horizontal whitespace. Leading and trailing whitespace of a pattern is
//! ignored. Matches never span lines.

use regex::Regex;
use std::collections::HashMap;
use std::fmt;

/// The kind of a directive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Check,
    Next,
    Same,
    Empty,
    Not,
    Dag,
    Label,
}

impl Kind {
    fn suffix(self) -> &'static str {
        match self {
            Kind::Check => "",
            Kind::Next => "-NEXT",
            Kind::Same => "-SAME",
            Kind::Empty => "-EMPTY",
            Kind::Not => "-NOT",
            Kind::Dag => "-DAG",
            Kind::Label => "-LABEL",
        }
    }
    const ALL: [Kind; 7] = [
        Kind::Next,
        Kind::Same,
        Kind::Empty,
        Kind::Not,
        Kind::Dag,
        Kind::Label,
        Kind::Check,
    ];
}

/// One directive read from the check file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Directive {
    pub kind: Kind,
    pub pattern: String,
    /// 1-based line in the check file.
    pub line: usize,
}

/// Why a check failed: the directive, where it was, and what the input held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckError {
    pub message: String,
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
impl std::error::Error for CheckError {}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Reads the directives with prefix `prefix` from a check file.
pub fn parse_directives(check_text: &str, prefix: &str) -> Result<Vec<Directive>, CheckError> {
    let mut out = Vec::new();
    for (i, line) in check_text.lines().enumerate() {
        let mut search = 0;
        while let Some(pos) = line[search..].find(prefix) {
            let start = search + pos;
            search = start + prefix.len();
            if line[..start].chars().next_back().is_some_and(is_word) {
                continue;
            }
            let rest = &line[start + prefix.len()..];
            let Some(kind) = Kind::ALL
                .into_iter()
                .find(|k| rest.starts_with(&format!("{}:", k.suffix())))
            else {
                continue;
            };
            let pattern = rest[kind.suffix().len() + 1..].trim().to_string();
            if pattern.is_empty() && kind != Kind::Empty {
                return Err(CheckError {
                    message: format!(
                        "check file line {}: {prefix}{} has an empty pattern",
                        i + 1,
                        kind.suffix()
                    ),
                });
            }
            if kind == Kind::Empty && !pattern.is_empty() {
                return Err(CheckError {
                    message: format!("check file line {}: {prefix}-EMPTY takes no pattern", i + 1),
                });
            }
            out.push(Directive {
                kind,
                pattern,
                line: i + 1,
            });
            break;
        }
    }
    if out.is_empty() {
        return Err(CheckError {
            message: format!("no {prefix}: directives found in the check file"),
        });
    }
    if matches!(out[0].kind, Kind::Next | Kind::Same | Kind::Empty) {
        return Err(CheckError {
            message: format!(
                "check file line {}: {prefix}{} cannot be the first directive",
                out[0].line,
                out[0].kind.suffix()
            ),
        });
    }
    Ok(out)
}

/// A compiled pattern and the variables it defines (capture group name ->
/// variable name).
struct Compiled {
    regex: Regex,
    defines: Vec<(String, String)>,
}

fn push_literal(re: &mut String, text: &str) {
    let mut in_space = false;
    for c in text.chars() {
        if c == ' ' || c == '\t' {
            if !in_space {
                re.push_str("[ \\t]+");
            }
            in_space = true;
        } else {
            in_space = false;
            re.push_str(&regex::escape(c.encode_utf8(&mut [0; 4])));
        }
    }
}

fn valid_var(name: &str) -> bool {
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

fn compile(
    pattern: &str,
    vars: &HashMap<String, String>,
    line: usize,
) -> Result<Compiled, CheckError> {
    let err = |m: String| CheckError {
        message: format!("check file line {line}: {m}"),
    };
    let mut re = String::from("(?m)");
    let mut defines = Vec::new();
    let mut rest = pattern;
    while !rest.is_empty() {
        let next_re = rest.find("{{");
        let next_var = rest.find("[[");
        let at = match (next_re, next_var) {
            (None, None) => {
                push_literal(&mut re, rest);
                break;
            }
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
        };
        push_literal(&mut re, &rest[..at]);
        rest = &rest[at..];
        if let Some(body) = rest.strip_prefix("{{") {
            let end = body
                .find("}}")
                .ok_or_else(|| err(format!("`{{{{` without `}}}}` in `{pattern}`")))?;
            let user = &body[..end];
            Regex::new(user).map_err(|e| err(format!("bad regex `{user}`: {e}")))?;
            re.push_str(&format!("(?:{user})"));
            rest = &body[end + 2..];
        } else {
            let body = &rest[2..];
            let end = body
                .find("]]")
                .ok_or_else(|| err(format!("`[[` without `]]` in `{pattern}`")))?;
            let inner = &body[..end];
            rest = &body[end + 2..];
            if let Some(expr) = inner.strip_prefix("@LINE") {
                let offset: i64 = match expr.trim() {
                    "" => 0,
                    e => e
                        .replace(' ', "")
                        .parse()
                        .map_err(|_| err(format!("bad line expression `[[{inner}]]`")))?,
                };
                re.push_str(&(line as i64 + offset).to_string());
                continue;
            }
            match inner.split_once(':') {
                Some((name, user)) => {
                    if !valid_var(name) {
                        return Err(err(format!("bad variable name `{name}`")));
                    }
                    Regex::new(user).map_err(|e| err(format!("bad regex `{user}`: {e}")))?;
                    let group = format!("v{}", defines.len());
                    re.push_str(&format!("(?P<{group}>{user})"));
                    defines.push((group, name.to_string()));
                }
                None => {
                    if !valid_var(inner) {
                        return Err(err(format!("bad variable name `{inner}`")));
                    }
                    if defines.iter().any(|(_, n)| n == inner) {
                        return Err(err(format!(
                            "variable `{inner}` is used in the pattern that defines it"
                        )));
                    }
                    let value = vars
                        .get(inner)
                        .ok_or_else(|| err(format!("variable `{inner}` is not defined")))?;
                    re.push_str(&regex::escape(value));
                }
            }
        }
    }
    let regex = Regex::new(&re).map_err(|e| err(format!("bad pattern `{pattern}`: {e}")))?;
    Ok(Compiled { regex, defines })
}

/// Byte offsets of line starts, for turning offsets into line numbers.
struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Lines { text, starts }
    }
    /// 0-based line of a byte offset.
    fn line_of(&self, off: usize) -> usize {
        match self.starts.binary_search(&off) {
            Ok(i) => i,
            Err(i) => i - 1,
        }
    }
    fn line_text(&self, line: usize) -> &'a str {
        let start = self.starts.get(line).copied().unwrap_or(self.text.len());
        let end = self
            .starts
            .get(line + 1)
            .map_or(self.text.len(), |&e| e - 1);
        &self.text[start..end.max(start)]
    }
}

struct Matcher<'a> {
    input: &'a str,
    lines: Lines<'a>,
    vars: HashMap<String, String>,
    prefix: &'a str,
}

impl Matcher<'_> {
    /// First match of `d` in `[from, to)`; binds its variables.
    fn find(
        &mut self,
        d: &Directive,
        from: usize,
        to: usize,
    ) -> Result<Option<(usize, usize)>, CheckError> {
        let c = compile(&d.pattern, &self.vars, d.line)?;
        let hay = &self.input[..to];
        let Some(caps) = c.regex.captures_at(hay, from.min(to)) else {
            return Ok(None);
        };
        let m = caps.get(0).map_or((from, from), |m| (m.start(), m.end()));
        for (group, name) in &c.defines {
            if let Some(g) = caps.name(group) {
                self.vars.insert(name.clone(), g.as_str().to_string());
            }
        }
        Ok(Some(m))
    }

    fn fail(&self, d: &Directive, what: &str, scan_from: usize) -> CheckError {
        let line = self.lines.line_of(scan_from.min(self.input.len()));
        let mut message = format!(
            "check file line {}: {}{}: {what}\n  pattern: {}\n  scanning from input line {}: {}",
            d.line,
            self.prefix,
            d.kind.suffix(),
            d.pattern,
            line + 1,
            self.lines.line_text(line)
        );
        if !self.vars.is_empty() {
            let mut v: Vec<_> = self.vars.iter().collect();
            v.sort();
            message += "\n  variables:";
            for (k, val) in v {
                message += &format!(" {k}=\"{val}\"");
            }
        }
        CheckError { message }
    }

    /// Checks that no pending NOT matches in `[from, to)`.
    fn check_nots(&mut self, nots: &[Directive], from: usize, to: usize) -> Result<(), CheckError> {
        for d in nots {
            if let Some((s, _)) = self.find(d, from, to)? {
                let line = self.lines.line_of(s);
                return Err(CheckError {
                    message: format!(
                        "check file line {}: {}-NOT: excluded string found in input\n  pattern: {}\n  found on input line {}: {}",
                        d.line,
                        self.prefix,
                        d.pattern,
                        line + 1,
                        self.lines.line_text(line)
                    ),
                });
            }
        }
        Ok(())
    }

    /// Runs the directives of one label region `[start, end)`.
    fn run_region(
        &mut self,
        dirs: &[Directive],
        start: usize,
        end: usize,
        mut last_line: Option<usize>,
    ) -> Result<(), CheckError> {
        let mut pos = start;
        let mut nots: Vec<Directive> = Vec::new();
        let mut i = 0;
        while i < dirs.len() {
            let d = &dirs[i];
            match d.kind {
                Kind::Not => {
                    nots.push(d.clone());
                    i += 1;
                }
                Kind::Dag => {
                    let mut j = i;
                    let mut taken: Vec<(usize, usize)> = Vec::new();
                    while j < dirs.len() && dirs[j].kind == Kind::Dag {
                        let dj = &dirs[j];
                        let mut from = pos;
                        loop {
                            match self.find(dj, from, end)? {
                                None => {
                                    return Err(self.fail(
                                        dj,
                                        "expected string not found in input",
                                        pos,
                                    ))
                                }
                                Some((s, e)) => {
                                    if taken.iter().any(|&(ts, te)| s < te && ts < e) {
                                        // Overlaps an earlier DAG match: look further.
                                        from = if e > s { s + 1 } else { e + 1 };
                                        while from < end && !self.input.is_char_boundary(from) {
                                            from += 1;
                                        }
                                        if from > end {
                                            return Err(self.fail(
                                                dj,
                                                "expected string not found in input",
                                                pos,
                                            ));
                                        }
                                        continue;
                                    }
                                    taken.push((s, e));
                                    break;
                                }
                            }
                        }
                        j += 1;
                    }
                    let first = taken.iter().map(|t| t.0).min().unwrap_or(pos);
                    let last = taken.iter().map(|t| t.1).max().unwrap_or(pos);
                    self.check_nots(&nots, pos, first)?;
                    nots.clear();
                    pos = last;
                    last_line = Some(self.lines.line_of(last.saturating_sub(1).max(first)));
                    i = j;
                }
                Kind::Empty => {
                    let Some(l) = last_line else {
                        return Err(self.fail(d, "has no previous match", pos));
                    };
                    let next = l + 1;
                    if next >= self.lines.starts.len() || !self.lines.line_text(next).is_empty() {
                        return Err(self.fail(d, "the next line is not empty", pos));
                    }
                    let s = self.lines.starts[next];
                    self.check_nots(&nots, pos, s)?;
                    nots.clear();
                    pos = s;
                    last_line = Some(next);
                    i += 1;
                }
                Kind::Check | Kind::Next | Kind::Same | Kind::Label => {
                    let found = self.find(d, pos, end)?;
                    let Some((s, e)) = found else {
                        return Err(self.fail(d, "expected string not found in input", pos));
                    };
                    let line = self.lines.line_of(s);
                    match (d.kind, last_line) {
                        (Kind::Next, Some(l)) if line != l + 1 => {
                            return Err(self.fail(
                                d,
                                &format!(
                                    "expected on the line after the previous match (input line {}), found on input line {}: {}",
                                    l + 2,
                                    line + 1,
                                    self.lines.line_text(line)
                                ),
                                pos,
                            ))
                        }
                        (Kind::Same, Some(l)) if line != l => {
                            return Err(self.fail(
                                d,
                                &format!(
                                    "expected on the line of the previous match (input line {}), found on input line {}",
                                    l + 1,
                                    line + 1
                                ),
                                pos,
                            ))
                        }
                        (Kind::Next | Kind::Same, None) => {
                            return Err(self.fail(d, "has no previous match", pos))
                        }
                        _ => {}
                    }
                    self.check_nots(&nots, pos, s)?;
                    nots.clear();
                    pos = e;
                    last_line = Some(line);
                    i += 1;
                }
            }
        }
        self.check_nots(&nots, pos, end)?;
        Ok(())
    }
}

/// Checks `input` against the directives with prefix `prefix` in `check_text`.
pub fn check(check_text: &str, input: &str, prefix: &str) -> Result<(), CheckError> {
    let dirs = parse_directives(check_text, prefix)?;
    check_directives(&dirs, input, prefix)
}

/// Checks `input` against already-parsed directives.
pub fn check_directives(dirs: &[Directive], input: &str, prefix: &str) -> Result<(), CheckError> {
    let mut m = Matcher {
        input,
        lines: Lines::new(input),
        vars: HashMap::new(),
        prefix,
    };
    // Labels first, in order, over the whole input.
    let mut cuts: Vec<(usize, usize, usize)> = Vec::new(); // (dir index, start, end)
    let mut pos = 0;
    for (i, d) in dirs.iter().enumerate() {
        if d.kind == Kind::Label {
            match m.find(d, pos, input.len())? {
                Some((s, e)) => {
                    cuts.push((i, s, e));
                    pos = e;
                }
                None => return Err(m.fail(d, "expected string not found in input", pos)),
            }
        }
    }
    // Regions: before the first label, then from each label to the next.
    // Directives after a label treat the label's match as the previous one,
    // so NEXT and SAME refer to the label's line.
    let mut dir_start = 0;
    let mut region_start = 0;
    let mut last_line = None;
    for &(di, s, e) in &cuts {
        m.run_region(&dirs[dir_start..di], region_start, s, last_line)?;
        dir_start = di + 1;
        region_start = e;
        last_line = Some(m.lines.line_of(s));
    }
    m.run_region(&dirs[dir_start..], region_start, input.len(), last_line)?;
    Ok(())
}

/// Escapes text so that it matches itself as a FileCheck pattern (used by
/// bless mode to write exact expectations).
pub fn escape_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("[[") {
            out.push_str("{{\\[\\[}}");
            rest = r;
        } else if let Some(r) = rest.strip_prefix("{{") {
            out.push_str("{{\\{\\{}}");
            rest = r;
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(checks: &str, input: &str) {
        if let Err(e) = check(checks, input, "CHECK") {
            panic!("expected a pass:\n{e}");
        }
    }
    fn fails(checks: &str, input: &str, msg: &str) {
        match check(checks, input, "CHECK") {
            Ok(()) => panic!("expected a failure for {checks:?} on {input:?}"),
            Err(e) => assert!(e.message.contains(msg), "{e}"),
        }
    }

    const IR: &str = "func @f(%0: tensor<2xf32>) -> (tensor<2xf32>) {\n  %1 = tensor.exp %0 : tensor<2xf32>\n  %2 = tensor.add %1, %1 : tensor<2xf32>\n  return %2\n}\nfunc @g() -> () {\n  return\n}\n";

    #[test]
    fn check_in_order() {
        ok("// CHECK: tensor.exp\n// CHECK: tensor.add", IR);
        fails(
            "// CHECK: tensor.add\n// CHECK: tensor.exp",
            IR,
            "expected string not found",
        );
        fails(
            "// CHECK: tensor.mul",
            IR,
            "check file line 1: CHECK: expected string not found",
        );
    }

    #[test]
    fn next_and_same() {
        ok(
            "CHECK: tensor.exp\nCHECK-NEXT: tensor.add\nCHECK-NEXT: return",
            IR,
        );
        ok(
            "CHECK: tensor.add\nCHECK-SAME: %1, %1\nCHECK-SAME: tensor<2xf32>",
            IR,
        );
        fails(
            "CHECK: func @f\nCHECK-NEXT: tensor.add",
            IR,
            "line after the previous match",
        );
        fails(
            "CHECK: tensor.exp\nCHECK-SAME: tensor.add",
            IR,
            "line of the previous match",
        );
        fails("CHECK-NEXT: x", IR, "cannot be the first directive");
    }

    #[test]
    fn not_between_matches() {
        ok(
            "CHECK: tensor.exp\nCHECK-NOT: tensor.mul\nCHECK: return",
            IR,
        );
        fails(
            "CHECK: func @f\nCHECK-NOT: tensor.add\nCHECK: return",
            IR,
            "excluded string found",
        );
        // A NOT at the end covers the rest of the input (here: of the region).
        fails("CHECK: tensor.exp\nCHECK-NOT: @g", IR, "input line 6");
        ok("CHECK: tensor.add\nCHECK-NOT: tensor.exp", IR);
    }

    #[test]
    fn dag_any_order_without_overlap() {
        ok(
            "CHECK: func @f\nCHECK-DAG: tensor.add\nCHECK-DAG: tensor.exp\nCHECK: return",
            IR,
        );
        fails(
            "CHECK-DAG: tensor.exp\nCHECK-DAG: tensor.exp",
            IR,
            "not found",
        );
        ok("CHECK-DAG: %1\nCHECK-DAG: %1", IR);
        fails(
            "CHECK-DAG: tensor.add\nCHECK-DAG: tensor.exp\nCHECK: tensor.exp",
            IR,
            "not found",
        );
    }

    #[test]
    fn labels_cut_regions() {
        ok(
            "CHECK-LABEL: func @f\nCHECK: return\nCHECK-LABEL: func @g\nCHECK-NEXT: return",
            IR,
        );
        // The `tensor.add` check cannot look past @g's label.
        fails("CHECK-LABEL: func @g\nCHECK: tensor.add", IR, "not found");
        fails(
            "CHECK-LABEL: func @f\nCHECK-NOT: return\nCHECK-LABEL: func @g",
            IR,
            "excluded",
        );
        fails(
            "CHECK-LABEL: func @h",
            IR,
            "CHECK-LABEL: expected string not found",
        );
    }

    #[test]
    fn regexes_and_variables() {
        ok(
            "CHECK: [[X:%[0-9]+]] = tensor.exp\nCHECK: tensor.add [[X]], [[X]]",
            IR,
        );
        fails(
            "CHECK: [[X:%[0-9]+]] = tensor.exp\nCHECK: return [[X]]",
            IR,
            "X=\"%1\"",
        );
        ok("CHECK: tensor.{{(exp|log)}} %0", IR);
        ok("CHECK: {{^}}  return %2{{$}}", IR);
        fails("CHECK: [[Y]]", IR, "variable `Y` is not defined");
        ok("\n\nCHECK: %[[@LINE-2]] = tensor.exp %[[@LINE - 3]]", IR);
        fails("CHECK: %[[@LINE+1]] = tensor.exp", IR, "not found");
        fails("CHECK: [[@LINE*2]]", IR, "bad line expression");
        fails("CHECK: {{(}}", IR, "bad regex");
        fails(
            "CHECK: [[X:a]] [[X]]",
            IR,
            "used in the pattern that defines it",
        );
        // Literal text is not a regex.
        fails("CHECK: tensor.e.p", IR, "not found");
        ok("CHECK: tensor<2xf32>) -> (", IR);
    }

    #[test]
    fn whitespace_runs_match_any_whitespace() {
        ok("CHECK: %1    =   tensor.exp", IR);
        ok("CHECK:    tensor.exp   ", IR);
        fails("CHECK: %1=tensor.exp", IR, "not found");
    }

    #[test]
    fn empty_lines() {
        ok("CHECK: a\nCHECK-EMPTY:\nCHECK-NEXT: b", "a\n\nb\n");
        fails("CHECK: a\nCHECK-EMPTY:", "a\nb\n", "not empty");
    }

    #[test]
    fn other_prefixes_and_word_boundaries() {
        let checks = "// FOO: tensor.exp\n// CHECK: nothing-like-this\n// XFOO: nope";
        assert!(check(checks, IR, "FOO").is_ok());
        assert!(check(checks, IR, "BAR")
            .unwrap_err()
            .message
            .contains("no BAR: directives"));
    }

    #[test]
    fn escaping_round_trips_through_matching() {
        let line = "%0 = tensor.constant {value = dense<[[1, 2], [3, 4]]> : tensor<2x2xi32>} {{x}}";
        let pat = escape_pattern(line);
        ok(&format!("CHECK: {pat}"), line);
        assert!(!pat.contains("[[1"));
    }
}
