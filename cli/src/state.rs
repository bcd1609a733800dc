//! The desired-state file: which roles users and groups should have.
//!
//! One document, JSON, TOML or YAML by extension (`-` is JSON on stdin):
//!
//! ```json
//! {"users": {"artist": [{"role": "User", "all_open_projects": true},
//!                       {"role": "Project Manager", "projects": ["gamma"]}],
//!            "restricted": []},
//!  "groups": {"Lighting": [{"role": "User", "all_open_projects": true}]}}
//! ```
//!
//! Parsing checks the shape only (unknown keys, wrong types, duplicate names are
//! errors naming the file and the line); names are checked against the server by
//! the `plan` module, which reports the key (`users.artist[1].role`).

use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::args::FileFormat;

/// A role with its scope, as written in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleEntry {
    /// The security role's name.
    pub role: String,
    /// Whether the role covers every open project.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all_open_projects: bool,
    /// Projects granted explicitly (short or full names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub projects: Vec<String>,
}

/// A map that keeps the file's order and refuses duplicate names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Named(pub Vec<(String, Vec<RoleEntry>)>);

impl Serialize for Named {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Named {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Named;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of names to lists of role entries")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Named, A::Error> {
                let mut out: Vec<(String, Vec<RoleEntry>)> = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if out.iter().any(|(k, _)| *k == key) {
                        return Err(serde::de::Error::custom(format!(
                            "duplicate name \"{key}\" (list each user or group once)"
                        )));
                    }
                    let value = map.next_value::<Vec<RoleEntry>>()?;
                    out.push((key, value));
                }
                Ok(Named(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// The whole desired-state document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DesiredState {
    /// Usernames and their own role entries.
    #[serde(default)]
    pub users: Named,
    /// Group names (or paths `Parent/Child`) and the role entries of their members.
    #[serde(default, skip_serializing_if = "is_empty")]
    pub groups: Named,
}

fn is_empty(n: &Named) -> bool {
    n.0.is_empty()
}

/// A file that could not be read or parsed: printed as `FILE: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// The file as named on the command line (`-` is `<stdin>`).
    pub file: String,
    /// What is wrong, with the line (and column) when the parser knows it.
    pub message: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.message)
    }
}

/// The format a file name implies.
pub fn format_of(file: &str) -> Result<FileFormat, FileError> {
    if file == "-" {
        return Ok(FileFormat::Json);
    }
    let ext = Path::new(file)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("json") => Ok(FileFormat::Json),
        Some("toml") => Ok(FileFormat::Toml),
        Some("yaml" | "yml") => Ok(FileFormat::Yaml),
        _ => Err(FileError {
            file: file.to_owned(),
            message: "cannot tell the format: name the file *.json, *.toml, *.yaml or *.yml \
                      (or `-` for JSON on stdin)"
                .into(),
        }),
    }
}

/// Reads and parses `file` (`-`: JSON from stdin).
pub fn load(file: &str) -> Result<DesiredState, FileError> {
    let format = format_of(file)?;
    let shown = if file == "-" { "<stdin>" } else { file };
    let err = |message: String| FileError {
        file: shown.to_owned(),
        message,
    };
    let text = if file == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| err(format!("cannot read stdin: {e}")))?;
        s
    } else {
        std::fs::read_to_string(file).map_err(|e| err(format!("cannot read the file: {e}")))?
    };
    parse(&text, format).map_err(err)
}

/// Parses a document in `format`; the error is the parser's, with its line.
pub fn parse(text: &str, format: FileFormat) -> Result<DesiredState, String> {
    match format {
        FileFormat::Json => serde_json::from_str(text).map_err(|e| {
            // serde_json says "... at line L column C"; lead with the line.
            format!("line {}, column {}: {}", e.line(), e.column(), strip_at(&e))
        }),
        FileFormat::Toml => toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            match line {
                Some(l) => format!("line {l}: {}", e.message().trim_end()),
                None => e.message().trim_end().to_owned(),
            }
        }),
        FileFormat::Yaml => {
            if text.trim().is_empty() {
                return Ok(DesiredState::default());
            }
            serde_norway::from_str(text).map_err(|e| {
                let msg = e.to_string();
                match e.location() {
                    Some(l) => {
                        let at = format!(" at line {} column {}", l.line(), l.column());
                        let msg = msg.strip_suffix(&at).unwrap_or(&msg);
                        format!("line {}, column {}: {msg}", l.line(), l.column())
                    }
                    None => msg,
                }
            })
        }
    }
}

fn strip_at(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

/// The document in `format`, ending with a newline.
pub fn render(state: &DesiredState, format: FileFormat) -> Result<String, String> {
    let mut s = match format {
        FileFormat::Json => json(state).map_err(|e| e.to_string())?,
        FileFormat::Toml => toml::to_string_pretty(state).map_err(|e| e.to_string())?,
        FileFormat::Yaml => serde_norway::to_string(state).map_err(|e| e.to_string())?,
    };
    if !s.ends_with('\n') {
        s.push('\n');
    }
    Ok(s)
}

/// JSON with one line per role entry, as people write it and as diffs read best:
/// `{"role": "User", "all_open_projects": true}`.
fn json(state: &DesiredState) -> serde_json::Result<String> {
    let entry = |e: &RoleEntry| -> serde_json::Result<String> {
        let q = |t: &str| serde_json::Value::from(t).to_string();
        let mut fields = vec![format!("\"role\": {}", q(&e.role))];
        if e.all_open_projects {
            fields.push("\"all_open_projects\": true".into());
        }
        if !e.projects.is_empty() {
            let ps: Vec<String> = e.projects.iter().map(|p| q(p)).collect();
            fields.push(format!("\"projects\": [{}]", ps.join(", ")));
        }
        Ok(format!("{{{}}}", fields.join(", ")))
    };
    let section = |name: &str, named: &Named| -> serde_json::Result<String> {
        let mut s = format!("  {}: {{", serde_json::Value::from(name));
        for (i, (key, entries)) in named.0.iter().enumerate() {
            s.push_str(if i == 0 { "\n" } else { ",\n" });
            s.push_str(&format!("    {}: [", serde_json::Value::from(key.as_str())));
            for (j, e) in entries.iter().enumerate() {
                s.push_str(if j == 0 { "\n" } else { ",\n" });
                s.push_str("      ");
                s.push_str(&entry(e)?);
            }
            s.push_str(if entries.is_empty() { "]" } else { "\n    ]" });
        }
        s.push_str(if named.0.is_empty() { "}" } else { "\n  }" });
        Ok(s)
    };
    let mut parts = vec![section("users", &state.users)?];
    if !state.groups.0.is_empty() {
        parts.push(section("groups", &state.groups)?);
    }
    Ok(format!("{{\n{}\n}}\n", parts.join(",\n")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> DesiredState {
        DesiredState {
            users: Named(vec![
                (
                    "artist".into(),
                    vec![
                        RoleEntry {
                            role: "User".into(),
                            all_open_projects: true,
                            projects: vec![],
                        },
                        RoleEntry {
                            role: "Project Manager".into(),
                            all_open_projects: false,
                            projects: vec!["gamma".into()],
                        },
                    ],
                ),
                ("restricted".into(), vec![]),
                ("山田.太郎".into(), vec![]),
            ]),
            groups: Named(vec![(
                "Lighting".into(),
                vec![RoleEntry {
                    role: "User".into(),
                    all_open_projects: true,
                    projects: vec![],
                }],
            )]),
        }
    }

    #[test]
    fn every_format_round_trips() {
        for f in [FileFormat::Json, FileFormat::Toml, FileFormat::Yaml] {
            let text = render(&sample(), f).unwrap();
            assert_eq!(parse(&text, f).unwrap(), sample(), "{f:?}:\n{text}");
        }
    }

    #[test]
    fn the_issue_example_parses() {
        let text = r#"{
  "users": {
    "artist": [
      {"role": "User", "all_open_projects": true},
      {"role": "Project Manager", "projects": ["gamma"]}
    ],
    "restricted": []
  },
  "groups": {
    "Lighting": [{"role": "User", "all_open_projects": true}]
  }
}"#;
        let s = parse(text, FileFormat::Json).unwrap();
        assert_eq!(s.users.0.len(), 2);
        assert_eq!(s.groups.0[0].0, "Lighting");
    }

    #[test]
    fn errors_name_the_line_and_the_bad_key() {
        let e = parse(
            "{\"users\": {\n  \"a\": [\n    {\"rol\": \"User\"}\n  ]\n}}",
            FileFormat::Json,
        )
        .unwrap_err();
        assert!(e.starts_with("line 3,") && e.contains("`rol`"), "{e}");
        let e = parse("{\"users\": {}, \"group\": {}}", FileFormat::Json).unwrap_err();
        assert!(e.contains("`group`"), "{e}");
        let e = parse(
            "[users]\na = [\n  { role = \"User\", x = 1 },\n]\n",
            FileFormat::Toml,
        )
        .unwrap_err();
        assert!(e.starts_with("line 3:") && e.contains("`x`"), "{e}");
        let e = parse(
            "users:\n  a:\n    - role: User\n      projets: [a]\n",
            FileFormat::Yaml,
        )
        .unwrap_err();
        assert!(e.starts_with("line 4,") && e.contains("`projets`"), "{e}");
        let e = parse("users:\n  a: []\n  a: []\n", FileFormat::Yaml).unwrap_err();
        assert!(e.contains("duplicate"), "{e}");
        let e = parse("{\"users\": {\"a\": [], \"a\": []}}", FileFormat::Json).unwrap_err();
        assert!(e.contains("duplicate name \"a\""), "{e}");
        let e = parse("{\"users\": {\"a\": [{\"role\": 3}]}}", FileFormat::Json).unwrap_err();
        assert!(e.starts_with("line 1,"), "{e}");
    }

    /// The three examples of cli/README.md say the same thing.
    #[test]
    fn the_readme_examples_agree() {
        let readme = include_str!("../README.md");
        let block = |lang: &str| {
            let start = readme.find(&format!("```{lang}\n")).unwrap() + lang.len() + 4;
            let end = start + readme[start..].find("```").unwrap();
            &readme[start..end]
        };
        let json = parse(block("json"), FileFormat::Json).unwrap();
        let mut expected = sample();
        expected.users.0.pop(); // the sample has one user more
        assert_eq!(json, expected);
        let toml = parse(block("toml"), FileFormat::Toml).unwrap();
        let yaml = parse(block("yaml"), FileFormat::Yaml).unwrap();
        // Same users and entries (TOML tables may order the users differently).
        for doc in [&toml, &yaml] {
            let mut a = doc.users.0.clone();
            let mut b = json.users.0.clone();
            a.sort_by(|x, y| x.0.cmp(&y.0));
            b.sort_by(|x, y| x.0.cmp(&y.0));
            assert_eq!(a, b);
            assert_eq!(doc.groups, json.groups);
        }
    }

    #[test]
    fn formats_follow_the_extension() {
        assert_eq!(format_of("a.JSON").unwrap(), FileFormat::Json);
        assert_eq!(format_of("roles.toml").unwrap(), FileFormat::Toml);
        assert_eq!(format_of("x.yml").unwrap(), FileFormat::Yaml);
        assert_eq!(format_of("-").unwrap(), FileFormat::Json);
        assert!(format_of("roles.txt").is_err());
    }
}
