//! OpenAI's tiktoken vocabularies, embedded in the `tiktoken-rs` crate: real, large vocabularies
//! (up to 200k tokens) for scale tests without a model file.
//!
//! tiktoken ranks are raw bytes already, so there is nothing to undo. `tiktoken-rs` 0.7 keeps
//! its rank → bytes table private; the one public way to get a rank's bytes without requiring
//! valid UTF-8 is `CoreBPE::_decode_native_and_split`, which panics on a rank it does not know.
//! The ranks that exist are therefore listed here (`ordinary`, the same table tiktoken's own
//! `explicit_n_vocab` checks), and `tests/vocab.rs` checks the list against the crate, whose
//! version is pinned for that reason.

use super::error::{Kind, VocabError};
use super::{TokenId, Vocabulary};

/// A tiktoken encoding shipped inside `tiktoken-rs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TiktokenEncoding {
    /// GPT-2 / GPT-3 (`r50k_base`): 50,257 tokens.
    R50kBase,
    /// GPT-3.5 / GPT-4 (`cl100k_base`): 100,277 ids (100,256 ordinary tokens).
    Cl100kBase,
    /// GPT-4o (`o200k_base`): 200,019 ids (199,998 ordinary tokens).
    O200kBase,
}

impl TiktokenEncoding {
    /// Every encoding, smallest first.
    pub const ALL: [TiktokenEncoding; 3] = [
        TiktokenEncoding::R50kBase,
        TiktokenEncoding::Cl100kBase,
        TiktokenEncoding::O200kBase,
    ];

    /// The encoding's tiktoken name, such as `o200k_base`.
    ///
    /// ```
    /// use taboo::TiktokenEncoding;
    /// assert_eq!(TiktokenEncoding::O200kBase.name(), "o200k_base");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            TiktokenEncoding::R50kBase => "r50k_base",
            TiktokenEncoding::Cl100kBase => "cl100k_base",
            TiktokenEncoding::O200kBase => "o200k_base",
        }
    }

    /// The encoding with this tiktoken name (`r50k_base`, `cl100k_base`, `o200k_base`).
    ///
    /// ```
    /// use taboo::TiktokenEncoding;
    /// assert_eq!(TiktokenEncoding::from_name("cl100k_base"), Some(TiktokenEncoding::Cl100kBase));
    /// assert_eq!(TiktokenEncoding::from_name("gpt2"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<TiktokenEncoding> {
        TiktokenEncoding::ALL.into_iter().find(|e| e.name() == name)
    }

    /// Ranks `0..ordinary` are byte tokens; every other id below the largest special rank is
    /// either special or unused.
    fn ordinary(self) -> TokenId {
        match self {
            TiktokenEncoding::R50kBase => 50_256,
            TiktokenEncoding::Cl100kBase => 100_256,
            TiktokenEncoding::O200kBase => 199_998,
        }
    }
}

pub(crate) fn load(encoding: TiktokenEncoding) -> Result<Vocabulary, VocabError> {
    let fail = |e: String| VocabError::new(Kind::Tiktoken(format!("{}: {e}", encoding.name())));
    let bpe = match encoding {
        TiktokenEncoding::R50kBase => tiktoken_rs::r50k_base(),
        TiktokenEncoding::Cl100kBase => tiktoken_rs::cl100k_base(),
        TiktokenEncoding::O200kBase => tiktoken_rs::o200k_base(),
    }
    .map_err(|e| fail(e.to_string()))?;

    let mut specials: Vec<(TokenId, String)> = Vec::new();
    for name in bpe.special_tokens() {
        match bpe.encode_with_special_tokens(name)[..] {
            [rank] if rank >= encoding.ordinary() => specials.push((rank, name.to_owned())),
            ref ranks => {
                return Err(fail(format!(
                    "special token {name} encodes to {ranks:?}, expected one rank above the ordinary ones"
                )))
            }
        }
    }
    specials.sort();

    let mut b = Vocabulary::builder();
    let ordinary: Vec<TokenId> = (0..encoding.ordinary()).collect();
    for bytes in bpe._decode_native_and_split(ordinary) {
        b.text(bytes);
    }
    for (rank, name) in specials {
        // tiktoken leaves gaps between the ordinary and the special ranks.
        while (b.len() as TokenId) < rank {
            let id = b.len();
            b.special(format!("<unused:{id}>"));
        }
        let is_end = name == tiktoken_rs::ENDOFTEXT;
        let id = b.special(name);
        if is_end {
            b.end_of_generation(id);
        }
    }
    Ok(b.build())
}
