//! A tokenizer for Chinese and Japanese, which have no spaces between words: runs of CJK
//! characters become overlapping bigrams (a lone character becomes a unigram), with
//! consecutive positions, so phrase queries match exact substrings; other runs of letters and
//! digits become lowercased words.

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// The CJK bigram tokenizer.
#[derive(Clone, Default)]
pub struct CjkBigramTokenizer;

/// Whether `c` is written without spaces in CJK text (ideographs, kana, hangul, CJK marks).
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // hiragana, katakana
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xAC00..=0xD7AF    // hangul syllables
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0xFF66..=0xFF9F    // half-width katakana
        | 0x20000..=0x2FA1F) // extensions B and later
}

/// The stream of tokens of one text.
pub struct CjkTokenStream {
    tokens: Vec<Token>,
    index: usize,
}

impl Tokenizer for CjkBigramTokenizer {
    type TokenStream<'a> = CjkTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> CjkTokenStream {
        CjkTokenStream { tokens: tokenize(text), index: 0 }
    }
}

fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let end_of = |i: usize| chars.get(i).map_or(text.len(), |(o, _)| *o);
    let mut i = 0;
    while i < chars.len() {
        let (start, c) = chars[i];
        if is_cjk(c) {
            let mut j = i;
            while j < chars.len() && is_cjk(chars[j].1) {
                j += 1;
            }
            if j - i == 1 {
                push(&mut tokens, text, start, end_of(i + 1));
            } else {
                for (k, (offset, _)) in chars.iter().enumerate().take(j - 1).skip(i) {
                    push(&mut tokens, text, *offset, end_of(k + 2));
                }
            }
            i = j;
        } else if c.is_alphanumeric() {
            let mut j = i;
            while j < chars.len() && chars[j].1.is_alphanumeric() && !is_cjk(chars[j].1) {
                j += 1;
            }
            push(&mut tokens, text, start, end_of(j));
            i = j;
        } else {
            i += 1;
        }
    }
    tokens
}

fn push(tokens: &mut Vec<Token>, text: &str, from: usize, to: usize) {
    tokens.push(Token {
        offset_from: from,
        offset_to: to,
        position: tokens.len(),
        text: text[from..to].to_lowercase(),
        position_length: 1,
    });
}

impl TokenStream for CjkTokenStream {
    fn advance(&mut self) -> bool {
        self.index += 1;
        self.index <= self.tokens.len()
    }

    fn token(&self) -> &Token {
        &self.tokens[self.index - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.index - 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(s: &str) -> Vec<String> {
        tokenize(s).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn cjk_runs_become_bigrams_and_words_stay_words() {
        assert_eq!(texts("廉政建设"), ["廉政", "政建", "建设"]);
        assert_eq!(texts("税関 WCO-Guide 2024年"), ["税関", "wco", "guide", "2024", "年"]);
        assert_eq!(texts("人事ローテーション"), ["人事", "事ロ", "ロー", "ーテ", "テー", "ーシ", "ショ", "ョン"]);
        let positions: Vec<usize> = tokenize("廉政建设").iter().map(|t| t.position).collect();
        assert_eq!(positions, [0, 1, 2]);
    }
}
