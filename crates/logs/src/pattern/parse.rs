//! The filter pattern parser: the form is decided by the first character (`{` JSON, `[`
//! space-delimited, anything else terms).

use super::{Field, FieldCond, FilterPattern, JsonExpr, Op, Operand, PatternError, Step, Terms};

/// The longest pattern (botocore: `FilterPattern` max 1024).
pub const MAX_PATTERN: usize = 1024;

fn err(msg: impl Into<String>) -> PatternError {
    PatternError(msg.into())
}

/// Parses a filter pattern.
pub fn parse(pattern: &str) -> Result<FilterPattern, PatternError> {
    if pattern.chars().count() > MAX_PATTERN {
        return Err(err(format!("Filter pattern is longer than {MAX_PATTERN} characters")));
    }
    let p = pattern.trim();
    if p.is_empty() || p == "\"\"" {
        return Ok(FilterPattern::All);
    }
    if p.starts_with('%') {
        return Err(err(
            "Regular expression filter patterns (%...%) are not supported by localbridge",
        ));
    }
    if let Some(inner) = p.strip_prefix('{') {
        let inner = inner
            .strip_suffix('}')
            .ok_or_else(|| err("Invalid JSON filter pattern: missing '}'"))?;
        let mut lx = Lexer::new(inner);
        let e = json_or(&mut lx)?;
        lx.skip_ws();
        if !lx.done() {
            return Err(err(format!("Invalid JSON filter pattern near '{}'", lx.rest())));
        }
        return Ok(FilterPattern::Json(e));
    }
    if let Some(inner) = p.strip_prefix('[') {
        let inner = inner
            .strip_suffix(']')
            .ok_or_else(|| err("Invalid space-delimited filter pattern: missing ']'"))?;
        return delimited(inner).map(FilterPattern::Delimited);
    }
    terms(p).map(FilterPattern::Terms)
}

fn terms(p: &str) -> Result<Terms, PatternError> {
    let mut t = Terms::default();
    let mut chars = p.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let (kind, start) = match c {
            '?' | '-' => {
                chars.next();
                (Some(c), i + 1)
            }
            _ => (None, i),
        };
        let text = if p[start..].starts_with('"') {
            chars.next();
            let body = start + 1;
            let end = p[body..]
                .find('"')
                .map(|e| body + e)
                .ok_or_else(|| err("Unterminated quoted term in filter pattern"))?;
            while chars.peek().is_some_and(|&(j, _)| j <= end) {
                chars.next();
            }
            p[body..end].to_owned()
        } else {
            let mut end = p.len();
            while let Some(&(j, c)) = chars.peek() {
                if c.is_whitespace() {
                    end = j;
                    break;
                }
                chars.next();
            }
            p[start..end].to_owned()
        };
        if text.is_empty() {
            continue;
        }
        match kind {
            Some('?') => t.any.push(text),
            Some('-') => t.excluded.push(text),
            _ => t.required.push(text),
        }
    }
    Ok(t)
}

/// The JSON pattern's tokens, read on demand.
struct Lexer<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Lexer<'a> {
    fn new(s: &'a str) -> Self {
        Self { s, i: 0 }
    }

    fn rest(&self) -> &'a str {
        &self.s[self.i..]
    }

    fn done(&self) -> bool {
        self.i >= self.s.len()
    }

    fn skip_ws(&mut self) {
        let r = self.rest();
        self.i += r.len() - r.trim_start().len();
    }

    /// Consumes `tok` (after whitespace) if it is next.
    fn eat(&mut self, tok: &str) -> bool {
        self.skip_ws();
        if self.rest().starts_with(tok) {
            self.i += tok.len();
            true
        } else {
            false
        }
    }

    /// Consumes a keyword (case-insensitive, followed by a boundary) if it is next.
    fn eat_word(&mut self, word: &str) -> bool {
        self.skip_ws();
        let r = self.rest();
        let boundary = r[word.len().min(r.len())..]
            .chars()
            .next()
            .is_none_or(|c| c.is_whitespace() || c == ')' || c == '&' || c == '|');
        if r.len() >= word.len() && r[..word.len()].eq_ignore_ascii_case(word) && boundary {
            self.i += word.len();
            true
        } else {
            false
        }
    }

    fn op(&mut self) -> Option<Op> {
        for (tok, op) in [
            ("!=", Op::Ne),
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("=", Op::Eq),
            ("<", Op::Lt),
            (">", Op::Gt),
        ] {
            if self.eat(tok) {
                return Some(op);
            }
        }
        None
    }

    /// A selector: `$` then `.key` and `[n]` steps.
    fn selector(&mut self) -> Result<Vec<Step>, PatternError> {
        self.skip_ws();
        if !self.eat("$") {
            return Err(err(format!(
                "Invalid JSON filter pattern: expected a selector starting with '$' near '{}'",
                self.rest()
            )));
        }
        let mut steps = Vec::new();
        loop {
            let r = self.rest();
            if let Some(after) = r.strip_prefix('.') {
                let len = after
                    .find(|c: char| c.is_whitespace() || "[.=!<>()&|".contains(c))
                    .unwrap_or(after.len());
                if len == 0 {
                    return Err(err("Invalid JSON filter pattern: empty selector key"));
                }
                steps.push(Step::Key(after[..len].to_owned()));
                self.i += 1 + len;
            } else if let Some(after) = r.strip_prefix('[') {
                let close = after
                    .find(']')
                    .ok_or_else(|| err("Invalid JSON filter pattern: missing ']' in selector"))?;
                let n = after[..close]
                    .trim()
                    .parse::<usize>()
                    .map_err(|_| err("Invalid JSON filter pattern: array index must be a number"))?;
                steps.push(Step::Index(n));
                self.i += close + 2;
            } else {
                break;
            }
        }
        if steps.is_empty() {
            return Err(err("Invalid JSON filter pattern: selector has no field"));
        }
        Ok(steps)
    }

    /// A value: `"quoted"`, or a bare run (a number when it parses as one).
    fn operand(&mut self, stop: &str) -> Result<Operand, PatternError> {
        self.skip_ws();
        let r = self.rest();
        if let Some(body) = r.strip_prefix('"') {
            let end = body
                .find('"')
                .ok_or_else(|| err("Invalid filter pattern: unterminated string"))?;
            self.i += end + 2;
            return Ok(Operand::Str(body[..end].to_owned()));
        }
        let len = r
            .find(|c: char| c.is_whitespace() || stop.contains(c))
            .unwrap_or(r.len());
        if len == 0 {
            return Err(err(format!("Invalid filter pattern: expected a value near '{r}'")));
        }
        self.i += len;
        let word = &r[..len];
        Ok(match word.parse::<f64>() {
            Ok(n) if n.is_finite() => Operand::Num(n),
            _ => Operand::Str(word.to_owned()),
        })
    }
}

fn json_or(lx: &mut Lexer<'_>) -> Result<JsonExpr, PatternError> {
    let mut left = json_and(lx)?;
    while lx.eat("||") {
        left = JsonExpr::Or(Box::new(left), Box::new(json_and(lx)?));
    }
    Ok(left)
}

fn json_and(lx: &mut Lexer<'_>) -> Result<JsonExpr, PatternError> {
    let mut left = json_unary(lx)?;
    while lx.eat("&&") {
        left = JsonExpr::And(Box::new(left), Box::new(json_unary(lx)?));
    }
    Ok(left)
}

fn json_unary(lx: &mut Lexer<'_>) -> Result<JsonExpr, PatternError> {
    if lx.eat("(") {
        let e = json_or(lx)?;
        if !lx.eat(")") {
            return Err(err("Invalid JSON filter pattern: missing ')'"));
        }
        return Ok(e);
    }
    let path = lx.selector()?;
    if lx.eat_word("IS") {
        if lx.eat_word("NULL") {
            return Ok(JsonExpr::IsNull(path));
        }
        if lx.eat_word("TRUE") {
            return Ok(JsonExpr::IsBool(path, true));
        }
        if lx.eat_word("FALSE") {
            return Ok(JsonExpr::IsBool(path, false));
        }
        return Err(err(
            "Invalid JSON filter pattern: IS must be followed by NULL, TRUE or FALSE",
        ));
    }
    if lx.eat_word("NOT") {
        if lx.eat_word("EXISTS") {
            return Ok(JsonExpr::NotExists(path));
        }
        return Err(err("Invalid JSON filter pattern: NOT must be followed by EXISTS"));
    }
    if lx.eat_word("EXISTS") {
        return Ok(JsonExpr::Exists(path));
    }
    let op = lx.op().ok_or_else(|| {
        err(format!(
            "Invalid JSON filter pattern: expected an operator near '{}'",
            lx.rest()
        ))
    })?;
    let operand = lx.operand("()&|")?;
    if matches!(operand, Operand::Str(_)) && !matches!(op, Op::Eq | Op::Ne) {
        return Err(err("Invalid JSON filter pattern: <, <=, > and >= compare numbers only"));
    }
    Ok(JsonExpr::Cmp(path, op, operand))
}

fn delimited(inner: &str) -> Result<Vec<Field>, PatternError> {
    let mut fields = Vec::new();
    for spec in inner.split(',') {
        let spec = spec.trim();
        if spec == "..." {
            fields.push(Field::Ellipsis);
            continue;
        }
        let mut lx = Lexer::new(spec);
        let name = field_name(&mut lx)?;
        lx.skip_ws();
        if lx.done() {
            fields.push(Field::Named(name, None));
            continue;
        }
        let cond = field_or(&mut lx, &name)?;
        lx.skip_ws();
        if !lx.done() {
            return Err(err(format!(
                "Invalid space-delimited filter pattern near '{}'",
                lx.rest()
            )));
        }
        fields.push(Field::Named(name, Some(cond)));
    }
    Ok(fields)
}

fn field_name(lx: &mut Lexer<'_>) -> Result<String, PatternError> {
    lx.skip_ws();
    let r = lx.rest();
    let len = r
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(r.len());
    if len == 0 {
        return Err(err(format!(
            "Invalid space-delimited filter pattern: expected a field name near '{r}'"
        )));
    }
    lx.i += len;
    Ok(r[..len].to_owned())
}

fn field_or(lx: &mut Lexer<'_>, name: &str) -> Result<FieldCond, PatternError> {
    let mut left = field_and(lx, name, true)?;
    while lx.eat("||") {
        left = FieldCond::Or(Box::new(left), Box::new(field_and(lx, name, false)?));
    }
    Ok(left)
}

fn field_and(lx: &mut Lexer<'_>, name: &str, first: bool) -> Result<FieldCond, PatternError> {
    let mut left = field_cmp(lx, name, first)?;
    while lx.eat("&&") {
        left = FieldCond::And(Box::new(left), Box::new(field_cmp(lx, name, false)?));
    }
    Ok(left)
}

/// `op value`, right after the field's name, or `name op value` after `&&` / `||`.
fn field_cmp(lx: &mut Lexer<'_>, name: &str, first: bool) -> Result<FieldCond, PatternError> {
    if !first {
        let again = field_name(lx)?;
        if again != name {
            return Err(err(format!(
                "Invalid space-delimited filter pattern: a condition on '{name}' names '{again}'"
            )));
        }
    }
    let op = lx.op().ok_or_else(|| {
        err(format!(
            "Invalid space-delimited filter pattern: expected an operator after '{name}'"
        ))
    })?;
    Ok(FieldCond::Cmp(op, lx.operand("&|")?))
}
