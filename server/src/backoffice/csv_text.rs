//! Text written into the CSV files merchants open in spreadsheets. A cell starting with `=`, `+`,
//! `-`, `@`, a tab or a carriage return is a formula to Excel, LibreOffice and Google Sheets; a
//! partner could name themselves `=HYPERLINK(…)`. Such cells get a leading `'` (OWASP's advice
//! for CSV injection), which spreadsheets show as plain text. Amounts we format ourselves are
//! numbers and are written as they are.

use std::borrow::Cow;

/// `text` safe to put in a spreadsheet cell.
pub fn cell(text: &str) -> Cow<'_, str> {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{text}")),
        _ => Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn formulas_become_text_and_everything_else_is_unchanged() {
        for formula in ["=HYPERLINK(\"http://evil\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(cell(formula), format!("'{formula}"));
        }
        assert_eq!(cell("Jane Partner"), "Jane Partner");
        assert_eq!(cell(""), "");
    }
}
