//! Reading an OpenVPN profile the way OpenVPN 2.x reads a config file: line by line, each line
//! split into parameters, `<tag>` … `</tag>` blocks read as the inline argument of option `tag`.
//!
//! The rules are those of OpenVPN's `parse_line`, `check_inline_file` and `read_config_file`
//! (src/openvpn/options_parse.c; facts only, no code taken):
//! - a UTF-8 byte-order mark before the first line is skipped;
//! - parameters are separated by whitespace (any `isspace` byte, so CRLF line endings parse like
//!   LF ones); a parameter starting with `#` or `;` starts a comment that runs to the end of the
//!   line (inside a parameter, `#` and `;` are ordinary characters);
//! - `"double quotes"` group a parameter in which `\"` and `\\` are escapes; `'single quotes'`
//!   group one with no escapes at all; outside single quotes a backslash may only escape `\`,
//!   `"` or whitespace (anything else is an error, as in OpenVPN); a closing quote ends the
//!   parameter, so `"a"b` is two parameters;
//! - a leading `--` on the option name is dropped (`--remote` = `remote`);
//! - a line holding exactly one parameter of the form `<tag>` opens an inline block: the lines
//!   that follow, verbatim, up to the first line that starts (after leading whitespace) with
//!   `</tag>`, are the option's argument. A missing end tag is an error.
//!
//! Must not: interpret options (that is `map`) or touch files.

use zeroize::Zeroizing;

/// One option of the profile, as written.
#[derive(Debug)]
pub struct Directive {
    /// The option name without a leading `--` (`remote`, `tls-auth`, `ca`).
    pub name: String,
    /// The parameters after the name. Empty for an inline block.
    pub args: Vec<String>,
    /// The 1-based line of the option (of the `<tag>` line for a block).
    pub line: usize,
    /// The block's text for `<tag>` … `</tag>`, lines verbatim (line endings included).
    /// Wiped when dropped: it is often a private key.
    pub inline: Option<Zeroizing<String>>,
}

impl Directive {
    /// The option as a user would recognise it in a report: `remote vpn.example.com 443 tcp`,
    /// or `<ca>` for a block. Never prints block contents.
    pub fn display(&self) -> String {
        if self.inline.is_some() {
            return format!("<{}>", self.name);
        }
        let mut text = self.name.clone();
        for arg in &self.args {
            text.push(' ');
            if arg.is_empty() || arg.chars().any(|c| c.is_whitespace() || c == '"') {
                text.push_str(&format!("{arg:?}"));
            } else {
                text.push_str(arg);
            }
        }
        text
    }

    /// Parameter `i` (0 = the first after the name), if present.
    pub fn arg(&self, i: usize) -> Option<&str> {
        self.args.get(i).map(String::as_str)
    }
}

/// Why a profile cannot be read as OpenVPN would read it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("line {line}: no closing quotation ({quote}) before the end of the line")]
    UnclosedQuote { line: usize, quote: char },
    #[error(
        "line {line}: a backslash may only escape `\\`, `\"` or a space (OpenVPN reads \
         backslashes as shell escapes: write `c:\\\\dir\\\\file` for a Windows path)"
    )]
    BadBackslash { line: usize },
    #[error("line {line}: the inline block <{tag}> has no closing </{tag}> line")]
    UnclosedBlock { line: usize, tag: String },
}

impl ParseError {
    /// The 1-based line the error is on.
    pub fn line(&self) -> usize {
        match self {
            ParseError::UnclosedQuote { line, .. }
            | ParseError::BadBackslash { line }
            | ParseError::UnclosedBlock { line, .. } => *line,
        }
    }
}

/// Parses a whole profile. `first_line` is the number of the text's first line (1 for a file;
/// the line after `<connection>` for a connection block's contents).
pub fn parse(text: &str, first_line: usize) -> Result<Vec<Directive>, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split_inclusive('\n').zip(first_line..);
    let mut directives = Vec::new();
    while let Some((raw, line)) = lines.next() {
        let mut params = split_line(raw, line)?;
        if params.is_empty() {
            continue;
        }
        let mut name = params.remove(0);
        if name.len() >= 3 && name.starts_with("--") {
            name.drain(..2);
        }
        let tag = (params.is_empty() && name.len() >= 2)
            .then(|| name.strip_prefix('<').and_then(|n| n.strip_suffix('>')))
            .flatten()
            .map(str::to_owned);
        let inline = match &tag {
            Some(tag) => Some(read_block(&mut lines, tag, line)?),
            None => None,
        };
        directives.push(Directive {
            name: tag.unwrap_or(name),
            args: params,
            line,
            inline,
        });
    }
    Ok(directives)
}

/// The lines up to the closing `</tag>` (not included), verbatim.
fn read_block<'a>(
    lines: &mut impl Iterator<Item = (&'a str, usize)>,
    tag: &str,
    open_line: usize,
) -> Result<Zeroizing<String>, ParseError> {
    let close = format!("</{tag}>");
    let mut body = Zeroizing::new(String::new());
    for (raw, _) in lines.by_ref() {
        if raw.trim_start().starts_with(&close) {
            return Ok(body);
        }
        body.push_str(raw);
    }
    Err(ParseError::UnclosedBlock {
        line: open_line,
        tag: tag.to_owned(),
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Between,
    Unquoted,
    Quoted,
    SingleQuoted,
}

/// Splits one line into parameters (see the module doc for the rules).
fn split_line(raw: &str, line: usize) -> Result<Vec<String>, ParseError> {
    let mut params = Vec::new();
    let mut current = String::new();
    let mut state = State::Between;
    let mut escaped = false;
    // A virtual NUL at the end ends an unquoted parameter, as in OpenVPN's loop.
    for c in raw.chars().chain(std::iter::once('\0')) {
        if !escaped && c == '\\' && state != State::SingleQuoted {
            escaped = true;
            continue;
        }
        let blank = c == '\0' || c.is_ascii_whitespace() || c == '\u{b}';
        let mut out = None;
        let mut done = false;
        match state {
            State::Between if blank => {}
            State::Between if c == '#' || c == ';' => break,
            State::Between if !escaped && c == '"' => state = State::Quoted,
            State::Between if !escaped && c == '\'' => state = State::SingleQuoted,
            State::Between => {
                out = Some(c);
                state = State::Unquoted;
            }
            State::Unquoted if !escaped && blank => done = true,
            State::Quoted if !escaped && c == '"' => done = true,
            State::SingleQuoted if c == '\'' => done = true,
            State::Unquoted | State::Quoted | State::SingleQuoted => out = Some(c),
        }
        if done {
            params.push(std::mem::take(&mut current));
            state = State::Between;
        }
        if let Some(ch) = out {
            if escaped && !(ch == '\\' || ch == '"' || ch == '\0' || ch.is_ascii_whitespace()) {
                return Err(ParseError::BadBackslash { line });
            }
            if ch != '\0' {
                current.push(ch);
            }
        }
        escaped = false;
    }
    match state {
        State::Quoted => Err(ParseError::UnclosedQuote { line, quote: '"' }),
        State::SingleQuoted => Err(ParseError::UnclosedQuote { line, quote: '\'' }),
        // Only a backslash before the very end leaves a parameter open.
        State::Unquoted => Err(ParseError::BadBackslash { line }),
        State::Between => Ok(params),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Vec<String> {
        split_line(text, 1).unwrap()
    }

    #[test]
    fn parameters_split_on_whitespace_and_comments_start_a_parameter() {
        assert_eq!(
            split("remote  vpn.example.com\t443 tcp\r\n"),
            ["remote", "vpn.example.com", "443", "tcp"]
        );
        assert_eq!(split("  # a comment"), Vec::<String>::new());
        assert_eq!(split("; another"), Vec::<String>::new());
        assert_eq!(split("verb 3 # three"), ["verb", "3"]);
        assert_eq!(split("verb 3;x"), ["verb", "3;x"]);
        assert_eq!(split("ca a#b.crt"), ["ca", "a#b.crt"]);
        assert_eq!(split("\r\n"), Vec::<String>::new());
    }

    #[test]
    fn quotes_and_backslashes_follow_openvpn() {
        assert_eq!(split(r#"ca "my dir/ca.crt""#), ["ca", "my dir/ca.crt"]);
        assert_eq!(split(r#"ca "a \"q\" \\ b""#), ["ca", r#"a "q" \ b"#]);
        assert_eq!(split(r"ca 'c:\dir\ca.crt'"), ["ca", r"c:\dir\ca.crt"]);
        assert_eq!(split(r"ca my\ file"), ["ca", "my file"]);
        assert_eq!(split(r#"x "a"b"#), ["x", "a", "b"]);
        assert_eq!(split(r#"x """#), ["x", ""]);
        assert_eq!(split("x '#not a comment'"), ["x", "#not a comment"]);
        assert_eq!(
            split_line(r"ca c:\dir", 7),
            Err(ParseError::BadBackslash { line: 7 })
        );
        assert_eq!(
            split_line("ca \"open", 3),
            Err(ParseError::UnclosedQuote {
                line: 3,
                quote: '"'
            })
        );
        assert_eq!(
            split_line("ca 'open", 4),
            Err(ParseError::UnclosedQuote {
                line: 4,
                quote: '\''
            })
        );
    }

    #[test]
    fn double_dash_prefixes_are_dropped_and_lines_are_counted() {
        let text = "\u{feff}--client\n\n--dev tap\n-- x\n";
        let directives = parse(text, 1).unwrap();
        let names: Vec<_> = directives
            .iter()
            .map(|d| (d.name.as_str(), d.line))
            .collect();
        assert_eq!(names, [("client", 1), ("dev", 3), ("--", 4)]);
        assert_eq!(directives[1].args, ["tap"]);
    }

    #[test]
    fn inline_blocks_keep_their_lines_verbatim() {
        let text = "ca x\r\n<ca>\r\n-----BEGIN CERTIFICATE-----\r\nAAAA\r\n  </ca>\r\nverb 3\r\n";
        let directives = parse(text, 1).unwrap();
        assert_eq!(directives.len(), 3);
        let block = &directives[1];
        assert_eq!((block.name.as_str(), block.line), ("ca", 2));
        assert!(block.args.is_empty());
        assert_eq!(
            block.inline.as_deref().map(String::as_str),
            Some("-----BEGIN CERTIFICATE-----\r\nAAAA\r\n")
        );
        assert_eq!(block.display(), "<ca>");
        assert_eq!(
            (directives[2].name.as_str(), directives[2].line),
            ("verb", 6)
        );
    }

    #[test]
    fn a_tag_with_parameters_is_not_a_block_and_a_missing_end_tag_is_an_error() {
        let directives = parse("<ca> x\n", 1).unwrap();
        assert_eq!(directives[0].name, "<ca>");
        assert!(directives[0].inline.is_none());
        assert_eq!(
            parse("verb 1\n<tls-auth>\nkey\n</tls-crypt>\n", 1).unwrap_err(),
            ParseError::UnclosedBlock {
                line: 2,
                tag: "tls-auth".into()
            }
        );
    }

    #[test]
    fn blocks_start_numbering_where_told() {
        let directives = parse("remote a 1\nproto tcp\n", 10).unwrap();
        assert_eq!(directives[1].line, 11);
    }

    #[test]
    fn display_quotes_what_needs_it() {
        let d = Directive {
            name: "ca".into(),
            args: vec!["my dir/ca.crt".into(), "".into()],
            line: 1,
            inline: None,
        };
        assert_eq!(d.display(), r#"ca "my dir/ca.crt" """#);
    }
}
