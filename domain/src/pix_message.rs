//! The message a payer may write on a Pix ("Mensagem", up to 140 characters, as Brazilian banking
//! apps allow), shown on both sides: in the payer's and the receiver's statements and on both
//! comprovantes.
//!
//! It crosses banks inside the parts a coordinator signs, so a receiving bank reads it from a
//! bank it does not trust: [`PixMessage`] is parsed wherever it comes from (the client's form,
//! another bank's prepare, the store), and deserialising refuses any text that is not already in
//! its parsed form. A rogue coordinator cannot plant 10 KB, line breaks or direction overrides in
//! another bank's statement.

use serde::{Deserialize, Serialize};

/// Most characters (Unicode scalar values, not bytes) in a message.
pub const MESSAGE_MAX_CHARS: usize = 140;

/// Most bytes a message's text takes (every character at most 4 bytes in UTF-8): what a message
/// can add to an inter-bank prepare, before JSON's quotes.
pub const MESSAGE_MAX_BYTES: usize = 4 * MESSAGE_MAX_CHARS;

/// A Pix's message: trimmed, at most [`MESSAGE_MAX_CHARS`] characters, no control character
/// (line breaks and tabs included) and no character that reorders text on screen (bidi
/// overrides and isolates), so that what the receiver reads is one plain line. Empty means no
/// message; an empty one is left out of every message it travels in (`skip_serializing_if`), so a
/// transfer without a message is written, hashed and signed exactly as before messages existed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PixMessage(String);

/// Why a message was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum MessageError {
    #[error("message longer than {MESSAGE_MAX_CHARS} characters")]
    TooLong,
    #[error("message has a control or direction character")]
    BadCharacter,
    /// Only from another bank or the store: text with spaces around it, which no honest bank
    /// sends (it would hash differently from the message its client typed).
    #[error("message not trimmed")]
    NotTrimmed,
}

impl PixMessage {
    /// What a client typed: trimmed, then checked. Blank text is no message.
    pub fn parse(text: &str) -> Result<PixMessage, MessageError> {
        let text = text.trim();
        // Counting stops one past the limit: a huge text costs no more than a long one.
        if text.chars().take(MESSAGE_MAX_CHARS + 1).count() > MESSAGE_MAX_CHARS {
            return Err(MessageError::TooLong);
        }
        if text.chars().any(forbidden) {
            return Err(MessageError::BadCharacter);
        }
        Ok(PixMessage(text.to_string()))
    }

    /// No message.
    pub fn none() -> PixMessage {
        PixMessage::default()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `None` for no message, to show or store it as absent.
    pub fn shown(&self) -> Option<&str> {
        (!self.is_empty()).then_some(self.0.as_str())
    }
}

/// Control characters (C0, DEL, C1: line breaks, tabs, escapes), the line and paragraph
/// separators, and the characters that reorder text (bidi embeddings, overrides, isolates and
/// marks), which could make a statement line read other than it is.
fn forbidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// From another bank or the store: the text must already be a parsed message (a text that
/// parsing would change is refused, not repaired, so that what was signed is what is shown).
impl TryFrom<String> for PixMessage {
    type Error = MessageError;

    fn try_from(text: String) -> Result<PixMessage, MessageError> {
        let parsed = PixMessage::parse(&text)?;
        if parsed.0 != text {
            return Err(MessageError::NotTrimmed);
        }
        Ok(parsed)
    }
}

impl From<PixMessage> for String {
    fn from(m: PixMessage) -> String {
        m.0
    }
}

impl std::fmt::Display for PixMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_trimmed_and_counted_in_characters_not_bytes() {
        assert_eq!(
            PixMessage::parse("  Aluguel de março  ").unwrap().as_str(),
            "Aluguel de março"
        );
        // 140 characters of two bytes each (280 bytes) fit; 141 do not.
        let accented = "ç".repeat(MESSAGE_MAX_CHARS);
        assert_eq!(accented.len(), 2 * MESSAGE_MAX_CHARS);
        assert_eq!(PixMessage::parse(&accented).unwrap().as_str(), accented);
        assert_eq!(
            PixMessage::parse(&format!("{accented}ç")),
            Err(MessageError::TooLong)
        );
        let emoji = "🎉".repeat(MESSAGE_MAX_CHARS);
        assert_eq!(emoji.len(), MESSAGE_MAX_BYTES);
        assert!(PixMessage::parse(&emoji).is_ok());
        assert_eq!(
            PixMessage::parse(&"a".repeat(10_000)),
            Err(MessageError::TooLong)
        );
        // Spaces around do not count.
        let padded = format!("   {}   ", "a".repeat(MESSAGE_MAX_CHARS));
        assert!(PixMessage::parse(&padded).is_ok());
    }

    #[test]
    fn blank_is_no_message() {
        for blank in ["", "   ", "\u{3000}"] {
            let m = PixMessage::parse(blank).unwrap();
            assert!(m.is_empty(), "{blank:?}");
            assert_eq!(m.shown(), None);
            assert_eq!(m, PixMessage::none());
        }
        assert_eq!(PixMessage::parse("oi").unwrap().shown(), Some("oi"));
    }

    #[test]
    fn control_and_direction_characters_are_refused() {
        for bad in [
            "linha 1\nlinha 2",
            "a\tb",
            "a\rb",
            "bell\u{7}",
            "del\u{7f}",
            "c1\u{85}x",
            "esc\u{1b}[31m",
            "nul\0",
            "pago\u{202E}0001 R$",
            "a\u{2066}b\u{2069}",
            "a\u{2028}b",
            "a\u{200F}b",
        ] {
            assert_eq!(
                PixMessage::parse(bad),
                Err(MessageError::BadCharacter),
                "{bad:?}"
            );
        }
        // Letters of any script, punctuation and emoji are fine.
        for good in [
            "Pizza 🍕 de sexta",
            "Obrigado! (R$ 50,00)",
            "日本語",
            "ação—ok",
        ] {
            assert!(PixMessage::parse(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn from_another_bank_only_a_parsed_message_is_read() {
        let ok: PixMessage = serde_json::from_str(r#""Aluguel""#).unwrap();
        assert_eq!(ok.as_str(), "Aluguel");
        assert_eq!(serde_json::to_string(&ok).unwrap(), r#""Aluguel""#);
        let long = serde_json::to_string(&"x".repeat(MESSAGE_MAX_CHARS + 1)).unwrap();
        for bad in [long.as_str(), r#"" padded ""#, r#""a\nb""#, r#""\u202e""#] {
            assert!(
                serde_json::from_str::<PixMessage>(bad).is_err(),
                "{bad} must be refused"
            );
        }
        assert_eq!(
            PixMessage::try_from(" x".to_string()),
            Err(MessageError::NotTrimmed)
        );
        let empty: PixMessage = serde_json::from_str(r#""""#).unwrap();
        assert!(empty.is_empty());
    }
}
