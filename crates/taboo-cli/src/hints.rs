//! What the user can do about an error. The library crates say what went wrong in their own
//! terms (a file, a context, a dictionary); which flag or script fixes it is the CLI's to say,
//! so the message `main` prints is the error followed by a hint found here.

use std::error::Error;
use std::fmt;

use taboo::forms::FormsError;
use taboo::{BanError, BanErrorKind};

/// The message for `taboo: <message>`: the error's own text, then what to do, when known.
pub fn message(e: &(dyn Error + 'static)) -> String {
    let mut text = e.to_string();
    if let Some(hint) = hint(e) {
        // A library error may still carry the same advice in its own text.
        if !text.contains(&hint) {
            text.push_str("; ");
            text.push_str(&hint);
        }
    }
    text
}

/// The hint for the first error in `e`'s source chain that has one.
fn hint(e: &(dyn Error + 'static)) -> Option<String> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        let found = if let Some(e) = err.downcast_ref::<taboo_llm::Error>() {
            runtime_hint(e)
        } else if let Some(e) = err.downcast_ref::<FormsError>() {
            forms_hint(e)
        } else if let Some(e) = err.downcast_ref::<BanError>() {
            match e.kind() {
                BanErrorKind::Forms(e) => forms_hint(e),
                _ => None,
            }
        } else {
            None
        };
        if found.is_some() {
            return found;
        }
        cur = err.source();
    }
    None
}

fn runtime_hint(e: &taboo_llm::Error) -> Option<String> {
    use taboo_llm::Error::*;
    Some(match e {
        ModelMissing { .. } => "run scripts/fetch-models.sh to fetch the default model, or pass \
             --model PATH to any GGUF file"
            .into(),
        NotGguf { source, .. } if source.is_truncated() => {
            "run scripts/fetch-models.sh again, or pass --model PATH to a whole GGUF file".into()
        }
        ModelLoad { .. } => "run with --verbose for llama.cpp's own log".into(),
        PromptTooLong { .. } => "shorten it or raise --ctx-size".into(),
        ContextTooLong { trained, .. } => format!("pass --ctx-size {trained} or less"),
        ContextMemory { .. } => "lower --ctx-size".into(),
        ChatTemplate(_) => "use --raw for plain continuation".into(),
        _ => return None,
    })
}

fn forms_hint(e: &FormsError) -> Option<String> {
    Some(match e {
        FormsError::DictionaryMissing { .. } => format!(
            "run scripts/fetch-models.sh to install it, or point ${} at a directory that has it",
            taboo::forms::DATA_DIR_ENV
        ),
        FormsError::Corrupt { .. } => "run scripts/fetch-models.sh again to reinstall it".into(),
        _ => return None,
    })
}

/// An error with what was being done when it happened (`"кошка": <error>`). Unlike a
/// `format!`ed string it keeps the error as its source, so that [`message`] still finds the
/// hint for it.
#[derive(Debug)]
pub struct Context {
    what: String,
    source: Box<dyn Error>,
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.source)
    }
}

impl Error for Context {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.source.as_ref())
    }
}

/// `.map_err(context(format!("{word:?}")))`: the error, prefixed with what it concerns.
pub fn context<E: Error + 'static>(what: impl Into<String>) -> impl FnOnce(E) -> Context {
    let what = what.into();
    move |e| Context {
        what,
        source: Box::new(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn the_cli_adds_the_flag_to_a_library_error() {
        let e = taboo_llm::Error::PromptTooLong {
            tokens: 300,
            context: 64,
        };
        let library = e.to_string();
        assert!(
            !library.contains("--"),
            "the library names no flag: {library}"
        );
        assert_eq!(
            message(&e),
            format!("{library}; shorten it or raise --ctx-size")
        );
        let e = taboo_llm::Error::ContextTooLong {
            requested: 1_000_000,
            trained: 8192,
        };
        assert!(message(&e).ends_with("; pass --ctx-size 8192 or less"));
    }

    #[test]
    fn hints_are_found_through_context_and_boxes_and_given_once() {
        let missing = || FormsError::DictionaryMissing {
            language: "Russian",
            searched: Some(PathBuf::from("/nowhere/ru")),
        };
        let boxed: Box<dyn Error> = Box::new(context::<FormsError>("\"кошка\"")(missing()));
        let text = message(boxed.as_ref());
        assert!(text.starts_with("\"кошка\": "), "{text}");
        assert_eq!(text.matches("scripts/fetch-models.sh").count(), 1, "{text}");
        assert!(text.contains("$TABOO_DATA_DIR"), "{text}");
        // No hint for an error the CLI knows nothing to add to.
        let plain: Box<dyn Error> = "something else".into();
        assert_eq!(message(plain.as_ref()), "something else");
    }
}
