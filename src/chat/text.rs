//! What people typed, as the bot reads it: without Unicode format characters (category Cf —
//! zero-width spaces and joiners, bidi marks, the byte-order mark, soft hyphens), which some
//! clients paste in front of or inside words and which nobody sees.

use std::borrow::Cow;

/// `text` without its format characters (borrowed when it has none, as almost all text).
pub fn visible(text: &str) -> Cow<'_, str> {
    if text.chars().any(is_format) {
        Cow::Owned(text.chars().filter(|c| !is_format(*c)).collect())
    } else {
        Cow::Borrowed(text)
    }
}

/// Whether `c` is in Unicode's general category Cf (format), as of Unicode 15.1.
fn is_format(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00AD
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_characters_go_and_the_rest_stays() {
        assert_eq!(visible("\u{200b}false positive"), "false positive");
        assert_eq!(visible("con\u{200d}firm\u{feff}"), "confirm");
        assert_eq!(visible("\u{202e}check api\u{2066}"), "check api");
        assert_eq!(
            visible("émoji 👍🏽 ok"),
            "émoji 👍🏽 ok",
            "letters and emoji stay"
        );
        assert!(matches!(visible("plain"), Cow::Borrowed(_)));
    }
}
