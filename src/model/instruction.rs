//! Instruction normalisation: history `created_by` (classic builder, BuildKit, Buildah/Podman) -> Dockerfile text.
//!
//! Every builder records a step differently in `history[].created_by`; [`normalize`] shows each
//! the way a Dockerfile reads it:
//!
//! | builder          | `created_by`                                      | shown as                     |
//! |------------------|---------------------------------------------------|------------------------------|
//! | classic          | `/bin/sh -c #(nop)  ENV K=V`                      | `ENV K=V`                    |
//! | classic          | `/bin/sh -c #(nop) COPY file:<64 hex> in /app `   | `COPY file:<12 hex> /app`    |
//! | classic          | `\|2 A=1 B=2 /bin/sh -c make`                     | `RUN make`                   |
//! | BuildKit         | `RUN /bin/sh -c apt-get update # buildkit`        | `RUN apt-get update`         |
//! | BuildKit         | `WORKDIR /app` (comment `buildkit.dockerfile.v0`) | `WORKDIR /app`               |
//! | Buildah / Podman | `/bin/sh -c #(nop) ENV K=V\|inheritLabels=false`  | `ENV K=V`                    |
//! | `docker import`  | empty, comment `Imported from -`                  | `IMPORT -` (keyword `""`)    |
//!
//! The work is two ordered tables: `SUFFIX_RULES` peel builder markers off the end, then the
//! first matching `BODY_RULES` entry reads the rest. Decisions:
//! - Build args (`|N K=V …`) are kept off the text (`RUN make`); [`build_args`] returns them.
//! - The shell prefix (`/bin/sh -c`, `/bin/bash -o pipefail -c`, `sh -ec`, `cmd /S /C`,
//!   `powershell -Command`, see `SHELLS`) is dropped; an exec-form RUN is shown as recorded.
//! - Content summaries `file:`/`dir:`/`multi:` keep 12 hex digits; the classic ` in ` goes.
//! - Buildah is only recognisable by its `|key=value` suffix; without one it reads as classic.
//! - `#(nop)` with nothing after it, and an empty `created_by` (unless from `docker import`),
//!   give keyword `""` and text `""`. Text that matches no rule is kept, trimmed, with a keyword
//!   only when its first word is an upper-case Dockerfile keyword.
//! - Multi-line text (heredocs) keeps its newlines; [`one_line`] folds it for tables.
//!
//! Everything here is total: any `&str` gives an answer, nothing panics.

use std::borrow::Cow;

/// Which tool wrote a history entry, as far as its text tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builder {
    Classic,
    BuildKit,
    Buildah,
    Unknown,
}

/// One history entry, the way a Dockerfile reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// Upper-case Dockerfile keyword (`RUN`, `COPY`, …); `""` when unknown or empty.
    pub keyword: String,
    /// The whole instruction, e.g. `RUN apt-get update && apt-get install -y gcc`.
    pub text: String,
    pub builder: Builder,
}

/// Dockerfile keywords, upper-case.
const KEYWORDS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

const BUILDKIT_COMMENT: &str = "buildkit.dockerfile.v0";
const BUILDKIT_SUFFIX: &str = "# buildkit";
const NOP: &str = "#(nop)";
const IMPORT_COMMENT: &str = "Imported from";
/// Hex digits kept of a `file:`/`dir:`/`multi:` content hash.
const HASH_LEN: usize = 12;
/// At most this many flags may sit between a shell and its script flag.
const MAX_SHELL_FLAGS: usize = 8;
/// At most this many builder suffixes are peeled off (keeps odd input linear).
const MAX_SUFFIXES: usize = 8;

type SuffixRule = fn(&str) -> Option<Cow<'_, str>>;

/// Markers builders append to `created_by`, tried in order until none applies.
const SUFFIX_RULES: &[(Builder, SuffixRule)] = &[
    (Builder::BuildKit, strip_buildkit_suffix),
    (Builder::Buildah, strip_buildah_suffix),
];

/// What a body rule found.
struct Parsed {
    keyword: &'static str,
    text: String,
    args: Vec<String>,
}

type BodyRule = fn(&str) -> Option<Parsed>;

/// Readers for the text left after the suffixes, tried in order; the last always matches.
const BODY_RULES: &[(Builder, BodyRule)] = &[
    (Builder::Classic, shell_form),
    (Builder::Unknown, dockerfile_form),
    (Builder::Unknown, raw_text),
];

/// How a shell takes a script: `<program> [flags…] <script flag> <script>`.
struct Shell {
    /// Program names, matched on the basename, ignoring ASCII case.
    programs: &'static [&'static str],
    is_script_flag: fn(&str) -> bool,
    is_flag: fn(&str) -> bool,
    /// Flags whose value is the next word (`-o pipefail`), ignoring ASCII case.
    valued_flags: &'static [&'static str],
}

/// Shells whose prefix is dropped from a RUN (the default, `SHELL […]`, Windows).
const SHELLS: &[Shell] = &[
    Shell {
        programs: &["sh", "bash", "ash", "dash", "zsh", "ksh", "mksh"],
        is_script_flag: posix_script_flag,
        is_flag: posix_flag,
        valued_flags: &["-o", "+o", "-O", "+O"],
    },
    Shell {
        programs: &["cmd", "cmd.exe"],
        is_script_flag: cmd_script_flag,
        is_flag: cmd_flag,
        valued_flags: &[],
    },
    Shell {
        programs: &["powershell", "powershell.exe", "pwsh", "pwsh.exe"],
        is_script_flag: powershell_script_flag,
        is_flag: powershell_flag,
        valued_flags: &[
            "-executionpolicy",
            "-ep",
            "-inputformat",
            "-outputformat",
            "-windowstyle",
            "-version",
        ],
    },
];

/// Turns a history entry into the instruction as a Dockerfile reads it.
pub fn normalize(created_by: &str, comment: Option<&str>) -> Instruction {
    parse(created_by, comment).0
}

/// The build args a RUN entry recorded (`|2 A=1 B=2 /bin/sh -c make` -> `["A=1", "B=2"]`).
pub fn build_args(created_by: &str) -> Vec<String> {
    parse(created_by, None).1
}

/// Folds whitespace runs, newlines, line continuations (`\` + newline) and control characters
/// into single spaces, for one-line table views.
pub fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        let blank = if c == '\\' {
            let after = rest.trim_start_matches([' ', '\t', '\r']);
            match after.strip_prefix('\n') {
                Some(next_line) => {
                    rest = next_line;
                    true
                }
                None => false,
            }
        } else {
            c.is_whitespace() || c.is_control()
        };
        if blank {
            pending_space = !out.is_empty();
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
    }
    out
}

fn parse(created_by: &str, comment: Option<&str>) -> (Instruction, Vec<String>) {
    let buildkit_comment = comment.map(str::trim) == Some(BUILDKIT_COMMENT);
    let (body, marker) = strip_suffixes(created_by, buildkit_comment.then_some(Builder::BuildKit));
    if body.is_empty() {
        let text = comment
            .and_then(|c| c.trim().strip_prefix(IMPORT_COMMENT))
            .map(|source| join("IMPORT", source.trim()))
            .unwrap_or_default();
        let builder = marker.unwrap_or(Builder::Unknown);
        return (instruction("", text, builder), Vec::new());
    }
    for &(builder, rule) in BODY_RULES {
        if let Some(parsed) = rule(&body) {
            let builder = marker.unwrap_or(builder);
            return (instruction(parsed.keyword, parsed.text, builder), parsed.args);
        }
    }
    // Unreachable in practice: `raw_text` always matches.
    let builder = marker.unwrap_or(Builder::Unknown);
    (instruction("", body.into_owned(), builder), Vec::new())
}

fn instruction(keyword: &str, text: String, builder: Builder) -> Instruction {
    Instruction {
        keyword: keyword.to_string(),
        text,
        builder,
    }
}

/// Applies [`SUFFIX_RULES`] until none matches. Once a builder is known, only its own rules
/// apply (a BuildKit command may well end in `|a=b`).
fn strip_suffixes(created_by: &str, known: Option<Builder>) -> (Cow<'_, str>, Option<Builder>) {
    let mut body = Cow::Borrowed(created_by.trim());
    let mut marker = known;
    'strip: for _ in 0..MAX_SUFFIXES {
        for &(builder, rule) in SUFFIX_RULES {
            if marker.is_some_and(|m| m != builder) {
                continue;
            }
            if let Some(stripped) = rule(&body) {
                body = Cow::Owned(stripped.trim().to_string());
                marker = Some(builder);
                continue 'strip;
            }
        }
        break;
    }
    (body, marker)
}

/// `… # buildkit` -> `…`.
fn strip_buildkit_suffix(s: &str) -> Option<Cow<'_, str>> {
    let head = s.trim_end().strip_suffix(BUILDKIT_SUFFIX)?;
    (head.is_empty() || head.ends_with(char::is_whitespace)).then_some(Cow::Borrowed(head))
}

/// `…|inheritLabels=false` -> `…`, at the end of the text or of its first line (heredoc RUNs).
fn strip_buildah_suffix(s: &str) -> Option<Cow<'_, str>> {
    let s = s.trim_end();
    if let Some(head) = strip_key_value_suffix(s) {
        return Some(Cow::Borrowed(head));
    }
    let (first, rest) = s.split_once('\n')?;
    let head = strip_key_value_suffix(first.trim_end())?;
    Some(Cow::Owned(format!("{}\n{rest}", head.trim_end())))
}

/// `…|key=value` -> `…`, for an identifier key and a plain value (no spaces or shell syntax).
fn strip_key_value_suffix(s: &str) -> Option<&str> {
    let bar = s.rfind('|')?;
    let (key, value) = s[bar + 1..].split_once('=')?;
    let key_ok = key.starts_with(|c: char| c.is_ascii_alphabetic())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let value_ok = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ',' | ':'));
    (key_ok && value_ok).then_some(&s[..bar])
}

/// Classic and Buildah: `[|N K=V …] <shell> -c <script>` where the script is a RUN command or
/// `#(nop) <instruction>`; also a bare `#(nop) …`, and an exec-form RUN with build args.
fn shell_form(s: &str) -> Option<Parsed> {
    let (args, command, had_args) = match split_build_args(s) {
        Some((args, command)) => (args, command, true),
        None => (Vec::new(), s, false),
    };
    let script = shell_script(command).or_else(|| command.starts_with(NOP).then_some(command));
    let parsed = match script {
        Some(script) => match script.strip_prefix(NOP) {
            Some(nop) => nop_instruction(nop),
            None => run(script),
        },
        None if had_args => run(command),
        None => return None,
    };
    Some(Parsed { args, ..parsed })
}

/// BuildKit (and kaniko-like) text: starts with an upper-case keyword; a RUN loses its build
/// args and shell prefix.
fn dockerfile_form(s: &str) -> Option<Parsed> {
    let (word, rest) = first_word(s);
    let keyword = KEYWORDS.iter().copied().find(|k| *k == word)?;
    if keyword != "RUN" {
        return Some(plain(keyword, s.to_string()));
    }
    let (args, command) = split_build_args(rest).unwrap_or((Vec::new(), rest));
    let script = shell_script(command).unwrap_or(command);
    Some(Parsed { args, ..run(script) })
}

/// Anything else, kept as it is.
fn raw_text(s: &str) -> Option<Parsed> {
    Some(plain("", s.trim().to_string()))
}

fn plain(keyword: &'static str, text: String) -> Parsed {
    Parsed {
        keyword,
        text,
        args: Vec::new(),
    }
}

fn run(script: &str) -> Parsed {
    plain("RUN", join("RUN", script.trim()))
}

/// The text after `#(nop)`: `ENV K=V`, `COPY file:… in /app`, … Buildah keeps the
/// Dockerfile's own spelling, so the keyword is matched ignoring case and written upper-case.
fn nop_instruction(nop: &str) -> Parsed {
    let body = nop.trim();
    let (word, rest) = first_word(body);
    let Some(keyword) = KEYWORDS.iter().copied().find(|k| k.eq_ignore_ascii_case(word)) else {
        return plain("", body.to_string());
    };
    let rest = rest.trim();
    let text = match keyword {
        "COPY" | "ADD" => join(keyword, &classic_copy(rest)),
        _ => join(keyword, rest),
    };
    plain(keyword, text)
}

/// `[--chown=… ]file:<hash> in <dest>` -> `[--chown=… ]file:<short hash> <dest>`; anything
/// else unchanged.
fn classic_copy(args: &str) -> Cow<'_, str> {
    let mut rest = args;
    let mut sources: Vec<&str> = Vec::new();
    loop {
        let (word, after) = first_word(rest);
        if word.is_empty() {
            return Cow::Borrowed(args);
        }
        if word == "in" && sources.last().is_some_and(|s| content_summary(s).is_some()) {
            let mut text: Vec<Cow<'_, str>> = sources.iter().map(|s| shorten(s)).collect();
            let dest = after.trim();
            if !dest.is_empty() {
                text.push(Cow::Borrowed(dest));
            }
            return Cow::Owned(text.join(" "));
        }
        sources.push(word);
        rest = after;
    }
}

/// `file:3a4b…` -> `("file", "3a4b…")`.
fn content_summary(word: &str) -> Option<(&str, &str)> {
    let (kind, hash) = word.split_once(':')?;
    let kind_ok = !kind.is_empty() && kind.bytes().all(|b| b.is_ascii_lowercase());
    (kind_ok && !hash.is_empty()).then_some((kind, hash))
}

/// Keeps [`HASH_LEN`] digits of a hex content hash.
fn shorten(word: &str) -> Cow<'_, str> {
    match content_summary(word) {
        Some((kind, hash)) if hash.len() > HASH_LEN && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            // All ASCII, so any byte index is a char boundary.
            Cow::Owned(format!("{kind}:{}", &hash[..HASH_LEN]))
        }
        _ => Cow::Borrowed(word),
    }
}

/// `|N K=V … <command>` -> (`["K=V", …]`, `<command>`). `None` unless it starts with `|<number>`.
/// When the count is wrong (too few args, values with spaces) the command starts at the first
/// word that opens a known shell.
fn split_build_args(s: &str) -> Option<(Vec<String>, &str)> {
    let (count, rest) = first_word(s);
    let announced: usize = count.strip_prefix('|')?.parse().ok()?;
    let starts = word_starts(rest);
    let from = |i: usize| starts.get(i).map_or("", |&at| &rest[at..]);
    let expected = announced.min(starts.len());
    let split = std::iter::once(expected)
        .chain(0..=starts.len())
        .find(|&i| shell_script(from(i)).is_some())
        .unwrap_or(expected);
    let args = starts.get(split).map_or(rest, |&at| &rest[..at]);
    Some((group_args(args), from(split)))
}

/// Words of `K=V` pairs; a word without `=` belongs to the value before it.
fn group_args(text: &str) -> Vec<String> {
    let mut args: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match args.last_mut() {
            Some(last) if !word.contains('=') => {
                last.push(' ');
                last.push_str(word);
            }
            _ => args.push(word.to_string()),
        }
    }
    args
}

/// `<shell> [flags…] <script flag> <script>` -> `<script>`, for the shells in [`SHELLS`].
fn shell_script(s: &str) -> Option<&str> {
    let (program, mut rest) = first_word(s);
    let name = program.rsplit(['/', '\\']).next().unwrap_or(program);
    let shell = SHELLS
        .iter()
        .find(|sh| sh.programs.iter().any(|p| p.eq_ignore_ascii_case(name)))?;
    let mut value_next = false;
    for _ in 0..=MAX_SHELL_FLAGS {
        let (word, after) = first_word(rest);
        if word.is_empty() {
            return None;
        }
        if value_next {
            value_next = false;
        } else if (shell.is_script_flag)(word) {
            return Some(after.trim_start());
        } else if (shell.is_flag)(word) {
            value_next = shell.valued_flags.iter().any(|v| v.eq_ignore_ascii_case(word));
        } else {
            return None;
        }
        rest = after;
    }
    None
}

/// `-c`, or a cluster holding `c` such as `-ec` or `-euxc`.
fn posix_script_flag(word: &str) -> bool {
    word.strip_prefix('-')
        .is_some_and(|flags| flags.contains('c') && flags.bytes().all(|b| b.is_ascii_alphabetic()))
}

fn posix_flag(word: &str) -> bool {
    word.starts_with(['-', '+'])
}

fn cmd_script_flag(word: &str) -> bool {
    word.eq_ignore_ascii_case("/c")
}

fn cmd_flag(word: &str) -> bool {
    word.starts_with('/')
}

fn powershell_script_flag(word: &str) -> bool {
    word.eq_ignore_ascii_case("-command") || word.eq_ignore_ascii_case("-c")
}

fn powershell_flag(word: &str) -> bool {
    word.starts_with('-')
}

/// Splits off the first word: (word, the text after it, untrimmed).
fn first_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    s.split_at(s.find(char::is_whitespace).unwrap_or(s.len()))
}

/// Byte offsets where the words of `s` start.
fn word_starts(s: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut prev_blank = true;
    for (i, c) in s.char_indices() {
        let blank = c.is_whitespace();
        if !blank && prev_blank {
            starts.push(i);
        }
        prev_blank = blank;
    }
    starts
}

fn join(keyword: &str, rest: &str) -> String {
    if rest.is_empty() {
        keyword.to_string()
    } else {
        format!("{keyword} {rest}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b";
    const BK: Option<&str> = Some(BUILDKIT_COMMENT);

    #[track_caller]
    fn check(created_by: &str, comment: Option<&str>, keyword: &str, text: &str, builder: Builder) {
        let got = normalize(created_by, comment);
        assert_eq!(
            got,
            Instruction {
                keyword: keyword.to_string(),
                text: text.to_string(),
                builder,
            },
            "input: {created_by:?}"
        );
    }

    #[test]
    fn hash_fixture_is_64_hex() {
        assert_eq!(HASH.len(), 64);
        assert!(HASH.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn classic_nop_instructions() {
        use Builder::Classic as C;
        check("/bin/sh -c #(nop)  ENV K=V", None, "ENV", "ENV K=V", C);
        check(
            r#"/bin/sh -c #(nop)  CMD ["sh"]"#,
            None,
            "CMD",
            r#"CMD ["sh"]"#,
            C,
        );
        check(
            "/bin/sh -c #(nop) WORKDIR /app",
            None,
            "WORKDIR",
            "WORKDIR /app",
            C,
        );
        check("/bin/sh -c #(nop)  LABEL a=b", None, "LABEL", "LABEL a=b", C);
        check(
            "/bin/sh -c #(nop)  EXPOSE 8080/tcp",
            None,
            "EXPOSE",
            "EXPOSE 8080/tcp",
            C,
        );
        check(
            r#"/bin/sh -c #(nop)  ENTRYPOINT ["/bin/sh" "-c" "uvicorn app:app --port 80"]"#,
            None,
            "ENTRYPOINT",
            r#"ENTRYPOINT ["/bin/sh" "-c" "uvicorn app:app --port 80"]"#,
            C,
        );
        check("/bin/sh -c #(nop)  USER app", None, "USER", "USER app", C);
        check("/bin/sh -c #(nop)  ARG X=1", None, "ARG", "ARG X=1", C);
        check(
            r#"/bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "curl -f http://localhost/ || exit 1"] "30s" "3s" "0s" '\x03'}"#,
            None,
            "HEALTHCHECK",
            r#"HEALTHCHECK &{["CMD-SHELL" "curl -f http://localhost/ || exit 1"] "30s" "3s" "0s" '\x03'}"#,
            C,
        );
        check(
            "/bin/sh -c #(nop)  SHELL [/bin/bash -o pipefail -c]",
            None,
            "SHELL",
            "SHELL [/bin/bash -o pipefail -c]",
            C,
        );
        check(
            "/bin/sh -c #(nop)  ONBUILD RUN make",
            None,
            "ONBUILD",
            "ONBUILD RUN make",
            C,
        );
        check(
            "/bin/sh -c #(nop)  STOPSIGNAL SIGTERM",
            None,
            "STOPSIGNAL",
            "STOPSIGNAL SIGTERM",
            C,
        );
        check(
            "/bin/sh -c #(nop)  VOLUME [/data]",
            None,
            "VOLUME",
            "VOLUME [/data]",
            C,
        );
        check(
            "/bin/sh -c #(nop)  MAINTAINER me",
            None,
            "MAINTAINER",
            "MAINTAINER me",
            C,
        );
    }

    #[test]
    fn classic_copy_and_add_shorten_the_content_hash() {
        use Builder::Classic as C;
        let short = &HASH[..12];
        assert_eq!(short, "3a4b5c6d7e8f");
        let cases = [
            (
                format!("/bin/sh -c #(nop) COPY file:{HASH} in /app "),
                format!("COPY file:{short} /app"),
            ),
            (
                format!("/bin/sh -c #(nop) COPY dir:{HASH} in /app "),
                format!("COPY dir:{short} /app"),
            ),
            (
                format!("/bin/sh -c #(nop) COPY multi:{HASH} in /app/ "),
                format!("COPY multi:{short} /app/"),
            ),
            (
                format!("/bin/sh -c #(nop) ADD file:{HASH} in / "),
                format!("ADD file:{short} /"),
            ),
            (
                format!("/bin/sh -c #(nop) COPY file:{HASH} in /app/main.py "),
                format!("COPY file:{short} /app/main.py"),
            ),
            (
                format!("/bin/sh -c #(nop) COPY --chown=app:app file:{HASH} in /app "),
                format!("COPY --chown=app:app file:{short} /app"),
            ),
        ];
        for (created_by, text) in &cases {
            let keyword = &text[..text.find(' ').unwrap()];
            check(created_by, None, keyword, text, C);
        }
        // Not the classic shape: unchanged.
        check("/bin/sh -c #(nop) COPY a b", None, "COPY", "COPY a b", C);
        check("/bin/sh -c #(nop) COPY", None, "COPY", "COPY", C);
        check(
            "/bin/sh -c #(nop) COPY file:abc in /x",
            None,
            "COPY",
            "COPY file:abc /x",
            C,
        );
    }

    #[test]
    fn classic_run_and_build_args() {
        use Builder::Classic as C;
        check(
            "/bin/sh -c apt-get update && rm -rf /var/lib/apt/lists/*",
            None,
            "RUN",
            "RUN apt-get update && rm -rf /var/lib/apt/lists/*",
            C,
        );
        check("|2 A=1 B=2 /bin/sh -c make", None, "RUN", "RUN make", C);
        assert_eq!(build_args("|2 A=1 B=2 /bin/sh -c make"), ["A=1", "B=2"]);
        // Fewer args than announced, values with spaces, exec form.
        check("|2 A=1 /bin/sh -c make", None, "RUN", "RUN make", C);
        assert_eq!(build_args("|2 A=1 /bin/sh -c make"), ["A=1"]);
        check("|1 A=x y /bin/sh -c make", None, "RUN", "RUN make", C);
        assert_eq!(build_args("|1 A=x y /bin/sh -c make"), ["A=x y"]);
        check("|1 A=1 python main.py", None, "RUN", "RUN python main.py", C);
        check("|9 A=1", None, "RUN", "RUN", C);
        assert!(build_args("/bin/sh -c make").is_empty());
    }

    #[test]
    fn multi_line_runs_keep_newlines_and_fold_for_tables() {
        let created_by =
            "/bin/sh -c apt-get update &&     apt-get install -y gcc && \\\n    rm -rf /var/lib/apt/lists/*";
        let got = normalize(created_by, None);
        assert_eq!(
            got.text,
            "RUN apt-get update &&     apt-get install -y gcc && \\\n    rm -rf /var/lib/apt/lists/*"
        );
        assert_eq!(
            one_line(&got.text),
            "RUN apt-get update && apt-get install -y gcc && rm -rf /var/lib/apt/lists/*"
        );
        assert_eq!(
            one_line("  a\n\tb  \r\n c \\  \n d\\e \u{1b}[31m "),
            "a b c d\\e [31m"
        );
        assert_eq!(one_line(""), "");
        assert_eq!(one_line(" \\\n "), "");
    }

    #[test]
    fn buildkit() {
        use Builder::BuildKit as K;
        check(
            "RUN /bin/sh -c apt-get update # buildkit",
            BK,
            "RUN",
            "RUN apt-get update",
            K,
        );
        check("RUN |1 X=1 /bin/sh -c make # buildkit", BK, "RUN", "RUN make", K);
        assert_eq!(build_args("RUN |1 X=1 /bin/sh -c make # buildkit"), ["X=1"]);
        check("COPY . /app # buildkit", BK, "COPY", "COPY . /app", K);
        check(
            "COPY /root/.local /root/.local # buildkit",
            BK,
            "COPY",
            "COPY /root/.local /root/.local",
            K,
        );
        check(
            "ADD https://x/y.tgz /tmp/ # buildkit",
            BK,
            "ADD",
            "ADD https://x/y.tgz /tmp/",
            K,
        );
        check("ADD a.tgz /tmp/  # buildkit", BK, "ADD", "ADD a.tgz /tmp/", K);
        check("WORKDIR /app", BK, "WORKDIR", "WORKDIR /app", K);
        check(
            "ENV PATH=/root/.local/bin:/usr/bin",
            BK,
            "ENV",
            "ENV PATH=/root/.local/bin:/usr/bin",
            K,
        );
        check(
            r#"CMD ["python" "main.py"]"#,
            BK,
            "CMD",
            r#"CMD ["python" "main.py"]"#,
            K,
        );
        check(
            "RUN python -m pip install x # buildkit",
            BK,
            "RUN",
            "RUN python -m pip install x",
            K,
        );
        check(
            "RUN /bin/sh -c set -eux; apt-get update; rm -rf /var/lib/apt/lists/* # buildkit",
            BK,
            "RUN",
            "RUN set -eux; apt-get update; rm -rf /var/lib/apt/lists/*",
            K,
        );
        check(
            "RUN /bin/bash -o pipefail -c curl x | sh # buildkit",
            BK,
            "RUN",
            "RUN curl x | sh",
            K,
        );
        // Heredoc RUN: newlines stay.
        check(
            "RUN /bin/sh -c <<EOF\nset -e\napt-get update\nEOF # buildkit",
            BK,
            "RUN",
            "RUN <<EOF\nset -e\napt-get update\nEOF",
            K,
        );
        // The suffix alone marks BuildKit; a BuildKit command may end like a Buildah suffix.
        check("RUN /bin/sh -c make # buildkit", None, "RUN", "RUN make", K);
        check(
            "RUN /bin/sh -c echo a|b=c # buildkit",
            None,
            "RUN",
            "RUN echo a|b=c",
            K,
        );
        check("RUN /bin/sh -c make#buildkit", BK, "RUN", "RUN make#buildkit", K);
    }

    #[test]
    fn buildah_and_podman() {
        use Builder::Buildah as B;
        check(
            "/bin/sh -c #(nop) ENV K=V|inheritLabels=false",
            None,
            "ENV",
            "ENV K=V",
            B,
        );
        check(
            "/bin/sh -c apk add x|inheritLabels=false",
            None,
            "RUN",
            "RUN apk add x",
            B,
        );
        check(
            &format!("/bin/sh -c #(nop) COPY file:{HASH} in /app |inheritLabels=false"),
            None,
            "COPY",
            "COPY file:3a4b5c6d7e8f /app",
            B,
        );
        check(
            "/bin/sh -c #(nop) ENV K=V|a=1|inheritLabels=false",
            None,
            "ENV",
            "ENV K=V",
            B,
        );
        check(
            "|1 A=1 /bin/sh -c make|inheritLabels=false",
            None,
            "RUN",
            "RUN make",
            B,
        );
        check(
            "/bin/sh -c <<EOF|inheritLabels=false\necho hi\nEOF",
            None,
            "RUN",
            "RUN <<EOF\necho hi\nEOF",
            B,
        );
        // Buildah keeps the Dockerfile's spelling of the keyword.
        check(
            "/bin/sh -c #(nop) env K=V",
            None,
            "ENV",
            "ENV K=V",
            Builder::Classic,
        );
        // Podman without the suffix reads like classic.
        check(
            &format!("/bin/sh -c #(nop) COPY file:{HASH} in /app "),
            None,
            "COPY",
            "COPY file:3a4b5c6d7e8f /app",
            Builder::Classic,
        );
        // A pipe is not a suffix.
        check(
            "/bin/sh -c ls | grep x=1",
            None,
            "RUN",
            "RUN ls | grep x=1",
            Builder::Classic,
        );
    }

    #[test]
    fn import_and_empty() {
        use Builder::Unknown as U;
        check("", Some("Imported from -"), "", "IMPORT -", U);
        check(
            "",
            Some("Imported from http://x/rootfs.tar"),
            "",
            "IMPORT http://x/rootfs.tar",
            U,
        );
        check("", None, "", "", U);
        check("   ", Some("some other comment"), "", "", U);
        check("", BK, "", "", Builder::BuildKit);
        check("/bin/sh -c #(nop)", None, "", "", Builder::Classic);
        check("/bin/sh -c #(nop)   ", None, "", "", Builder::Classic);
        check("#(nop) ENV A=1", None, "ENV", "ENV A=1", Builder::Classic);
    }

    #[test]
    fn other_shells_and_unknown_text() {
        use Builder::{Classic as C, Unknown as U};
        check("sh -c foo", None, "RUN", "RUN foo", C);
        check(
            "/bin/bash -o pipefail -c foo && bar",
            None,
            "RUN",
            "RUN foo && bar",
            C,
        );
        check("/bin/sh -e -c foo", None, "RUN", "RUN foo", C);
        check("/bin/sh -ec foo", None, "RUN", "RUN foo", C);
        check("cmd /S /C dir C:\\", None, "RUN", "RUN dir C:\\", C);
        check(
            "cmd /S /C #(nop)  WORKDIR C:\\app",
            None,
            "WORKDIR",
            "WORKDIR C:\\app",
            C,
        );
        check(
            "powershell -Command $ErrorActionPreference = 'Stop'; iwr x",
            None,
            "RUN",
            "RUN $ErrorActionPreference = 'Stop'; iwr x",
            C,
        );
        check(
            "/bin/bash -o pipefail -c #(nop)  ENV A=1",
            None,
            "ENV",
            "ENV A=1",
            C,
        );
        check("  bazel build //x  ", None, "", "bazel build //x", U);
        check("ko", None, "", "ko", U);
        check("/bin/sh", None, "", "/bin/sh", U);
        check("|x A=1 /bin/sh -c make", None, "", "|x A=1 /bin/sh -c make", U);
        // Kaniko-style Dockerfile text, no BuildKit marker.
        check("RUN apt-get update", None, "RUN", "RUN apt-get update", U);
        check("COPY . /app", None, "COPY", "COPY . /app", U);
        check("copy . /app", None, "", "copy . /app", U);
    }

    #[test]
    fn odd_inputs_never_panic() {
        let hash_copy = format!("/bin/sh -c #(nop) COPY file:{HASH} in /app/main.py ");
        let seeds: Vec<String> = vec![
            "/bin/sh -c #(nop)  ENV K=V".into(),
            hash_copy,
            "|2 A=1 B=2 /bin/sh -c make".into(),
            "RUN |1 X=1 /bin/sh -c make # buildkit".into(),
            "/bin/sh -c #(nop) ENV K=V|inheritLabels=false".into(),
            "/bin/bash -o pipefail -c foo".into(),
            "cmd /S /C #(nop) COPY dir:ü€😀 in C:\\ ".into(),
            "powershell -ExecutionPolicy Bypass -Command x".into(),
            "RUN /bin/sh -c <<EOF|a=b\néé\nEOF # buildkit".into(),
            "\u{0}\u{1b}[2J|\u{7f}\t\r\n\u{85}\u{2028}".into(),
            "|18446744073709551616 A=1".into(),
            "|-1 A".into(),
            "file:😀😀😀😀😀😀😀😀😀😀😀😀😀😀 in".into(),
        ];
        let huge = [
            format!("|3 {}", "A=1 ".repeat(10_000)),
            format!("/bin/sh -c {}", "x\\\n ".repeat(10_000)),
            format!("{}|a=b", "-o ".repeat(10_000)),
            "\n|a=b".repeat(10_000),
        ];
        let exercise = |s: &str| {
            for comment in [None, BK, Some("Imported from -")] {
                let got = normalize(s, comment);
                let _ = build_args(s);
                assert_eq!(got.text, got.text.trim(), "{s:?}");
                assert!(got.keyword.is_empty() || KEYWORDS.contains(&got.keyword.as_str()));
                assert!(got.text.starts_with(&got.keyword), "{s:?}");
                let folded = one_line(&got.text);
                assert!(!folded.contains("  ") && !folded.contains('\n'), "{s:?}");
            }
        };
        for seed in &seeds {
            for (i, _) in seed.char_indices().chain([(seed.len(), ' ')]) {
                exercise(&seed[..i]);
                exercise(&seed[i..]);
            }
        }
        for s in &huge {
            exercise(s);
        }
        // Short sequences of tricky fragments.
        let parts = [
            "",
            " ",
            "|",
            "|2",
            "|x",
            "#(nop)",
            "/bin/sh",
            "-c",
            "-o",
            "\n",
            "é",
            "\u{0}",
            "COPY",
            "file:abcdef0123456789",
            "in",
            " # buildkit",
            "|a=b",
            "RUN",
            "\\",
            "cmd",
            "/C",
            "powershell",
            "-Command",
            "😀",
            "=",
        ];
        for a in parts {
            for b in parts {
                for c in parts {
                    exercise(&format!("{a}{b}{c}"));
                    exercise(&format!("{a} {b} {c}"));
                }
            }
        }
        // Pseudo-random longer ones (fixed seed, no dependencies).
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..3000 {
            let mut s = String::new();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            for k in 0..(state % 10) {
                let pick = (state >> (k * 5)) as usize % parts.len();
                s.push_str(parts[pick]);
                if (state >> (k + 40)) & 1 == 1 {
                    s.push(' ');
                }
            }
            exercise(&s);
        }
    }
}
