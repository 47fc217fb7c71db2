//! The statement exported as CSV, for the client's own records: dates in Brasília time, amounts
//! in reais with a decimal comma, every field quoted (RFC 4180), in the client's language.

use crate::error::AppError;
use crate::i18n::{td_string, Locale};
use domain::dto::{BankInfo, EntryKind, EntryView, TxStatus};
use domain::time_fmt::format_brasilia;
use leptos::prelude::*;
use leptos::server_fn::codec::{GetUrl, StreamingText, TextStream};

#[cfg(feature = "ssr")]
use crate::api::ssr;

/// Most entries one export holds (the newest): a bound on what one request makes the bank read.
pub const STATEMENT_EXPORT_MAX: u32 = 5_000;

/// The logged-in client's statement as a CSV file (`GET /api/statement_csv`), newest first, at
/// most [`STATEMENT_EXPORT_MAX`] entries.
#[server(endpoint = "statement_csv", input = GetUrl, output = StreamingText)]
pub async fn statement_csv() -> Result<TextStream<AppError>, AppError> {
    use axum::http::header::{HeaderValue, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
    let engine = ssr::engine()?;
    let account = ssr::current_account(&engine).await?;
    let entries = engine
        .statement(account, STATEMENT_EXPORT_MAX)
        .await
        .map_err(ssr::from_engine)?;
    let banks = ssr::consortium()
        .map(|c| c.banks())
        .unwrap_or_else(|| vec![engine.bank().clone()]);
    let text = csv(&entries, ssr::locale(), &banks);
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        let file = format!("attachment; filename=\"extrato-{}.csv\"", account.0);
        response.insert_header(
            CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        );
        if let Ok(value) = HeaderValue::from_str(&file) {
            response.insert_header(CONTENT_DISPOSITION, value);
        }
        response.insert_header(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(TextStream::new(futures::stream::once(
        async move { Ok(text) },
    )))
}

/// The statement `entries` as CSV text: a header line, then one line per entry.
pub fn csv(entries: &[EntryView], l: Locale, banks: &[BankInfo]) -> String {
    let header = [
        td_string!(l, export.date).to_string(),
        td_string!(l, export.id).to_string(),
        td_string!(l, export.description).to_string(),
        td_string!(l, export.amount).to_string(),
        td_string!(l, export.status).to_string(),
        td_string!(l, export.balance_after).to_string(),
        td_string!(l, export.returned_for).to_string(),
        td_string!(l, export.message).to_string(),
    ];
    let mut out = line(&header);
    for e in entries {
        let fields = [
            format_brasilia(e.created_ms),
            e.tx_id.to_string(),
            description(e, l, banks),
            reais(e.amount.get().saturating_mul(e.kind.sign())),
            status(e.status, l),
            e.balance_after.map(|b| reais(b.get())).unwrap_or_default(),
            e.returned_for
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            // A payer chose it: a leading minus is text too (`-1+1` is not an amount).
            guard_chosen(e.message.as_str()),
        ];
        out.push_str(&line(&fields));
    }
    out
}

/// What an entry was, in words, as the statement says it.
fn description(e: &EntryView, l: Locale, banks: &[BankInfo]) -> String {
    let bank = |id| crate::text::bank_name(l, id, banks);
    match (e.kind, &e.counterparty) {
        (EntryKind::Deposit, _) => match e.deposit_method {
            Some(m) => {
                let word = crate::text::deposit_method(l, m);
                td_string!(l, history.deposit_by, method = word).to_string()
            }
            None => td_string!(l, history.deposit).to_string(),
        },
        (EntryKind::PixOut, Some(c)) => td_string!(
            l,
            history.pix_to,
            name = c.name.clone(),
            key = c.key_masked.clone(),
            bank = bank(c.bank)
        )
        .to_string(),
        (EntryKind::PixIn, Some(c)) => td_string!(
            l,
            history.pix_from,
            name = c.name.clone(),
            key = c.key_masked.clone(),
            bank = bank(c.bank)
        )
        .to_string(),
        (EntryKind::PixOut, None) => td_string!(l, history.pix_sent).to_string(),
        (EntryKind::PixIn, None) => td_string!(l, history.pix_received).to_string(),
    }
}

fn status(s: TxStatus, l: Locale) -> String {
    match s {
        TxStatus::Pending => td_string!(l, history.pending).to_string(),
        TxStatus::Committed => td_string!(l, history.committed).to_string(),
        TxStatus::Aborted => td_string!(l, history.aborted).to_string(),
    }
}

/// Cents as reais with a decimal comma and no grouping: `-1234,05`.
fn reais(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{},{:02}", abs / 100, abs % 100)
}

/// Text a payer chose, whole: any leading character a spreadsheet reads as a formula's start,
/// the minus sign included, is prefixed with `'` (then [`field`] leaves it alone).
fn guard_chosen(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

/// One CSV line (CRLF-terminated, as RFC 4180 has it), every field quoted.
fn line(fields: &[String]) -> String {
    let quoted: Vec<String> = fields.iter().map(|f| field(f)).collect();
    format!("{}\r\n", quoted.join(","))
}

/// A field quoted, its quotes doubled. Text a spreadsheet would run as a formula (a name a payer
/// chose, starting with `=`, `+`, `-`, `@`, a tab or a carriage return) is prefixed with `'` so
/// that it stays text; amounts never reach this rule with letters, and a negative amount is not
/// text a client chose.
fn field(text: &str) -> String {
    let formula = text.starts_with(['=', '+', '@', '\t', '\r'])
        || (text.starts_with('-') && !text[1..].starts_with(|c: char| c.is_ascii_digit()));
    let guarded = if formula {
        format!("'{text}")
    } else {
        text.to_string()
    };
    format!("\"{}\"", guarded.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::dto::{Counterparty, DepositMethod};
    use domain::{BankId, Cents, TxId};

    fn entry(kind: EntryKind, cents: i64, name: Option<&str>) -> EntryView {
        EntryView {
            tx_id: TxId::parse("E00000001202611261705abcdefghijk").unwrap(),
            kind,
            amount: Cents::new(cents),
            status: TxStatus::Committed,
            counterparty: name.map(|n| Counterparty {
                name: n.into(),
                key_masked: "***.444.777-**".into(),
                bank: BankId::try_from(3).unwrap(),
            }),
            // 26/11/2026 17:05 UTC is 14:05 in Brasília.
            created_ms: 1_795_712_700_000,
            balance_after: Some(Cents::new(123_456)),
            returned_for: None,
            deposit_method: None,
            reason: None,
            message: domain::PixMessage::none(),
        }
    }

    #[test]
    fn a_statement_is_quoted_in_reais_with_a_comma_and_in_brasilia_time() {
        let banks = vec![BankInfo {
            id: BankId::try_from(3).unwrap(),
            name: "Carioca".into(),
        }];
        let mut deposit = entry(EntryKind::Deposit, 100_000, None);
        deposit.deposit_method = Some(DepositMethod::Boleto);
        let mut back = entry(EntryKind::PixOut, 3_005, Some("Ana \"Aninha\", Lima"));
        back.message = domain::PixMessage::parse("Aluguel, \"março\"").unwrap();
        let mut formula = entry(EntryKind::PixIn, 5, Some("=HYPERLINK(\"x\")"));
        formula.message = domain::PixMessage::parse("-1+1").unwrap();
        back.returned_for = Some(TxId::parse("E00000001202611261700originalxxx").unwrap());
        back.balance_after = None;
        let text = csv(&[back, formula, deposit], Locale::pt_BR, &banks);
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert_eq!(lines[4], "", "every line ends with CRLF");
        assert!(lines[0].starts_with("\"Data (Brasília)\","), "{}", lines[0]);
        assert_eq!(
            lines[1],
            "\"26/11/2026 14:05\",\"E00000001202611261705abcdefghijk\",\
             \"Pix para Ana \"\"Aninha\"\", Lima (***.444.777-** · Carioca)\",\"-30,05\",\
             \"Concluído\",\"\",\"E00000001202611261700originalxxx\",\"Aluguel, \"\"março\"\"\""
        );
        // A payer's name never starts a cell, so a spreadsheet reads it as text.
        assert!(
            lines[2].contains(",\"Pix de =HYPERLINK(\"\"x\"\") (***"),
            "{}",
            lines[2]
        );
        assert!(lines[2].contains("\"0,05\""), "{}", lines[2]);
        assert!(lines[2].ends_with(",\"'-1+1\""), "{}", lines[2]);
        assert!(lines[0].ends_with(",\"Mensagem\""), "{}", lines[0]);
        assert!(lines[3].ends_with(",\"\""), "no message: {}", lines[3]);
        assert!(
            lines[3].contains("\"Depósito · Boleto\",\"1000,00\""),
            "{}",
            lines[3]
        );
        assert!(lines[3].contains("\"1234,56\""), "{}", lines[3]);
    }

    #[test]
    fn fields_that_a_spreadsheet_would_run_stay_text() {
        assert_eq!(field("=1+1"), "\"'=1+1\"");
        assert_eq!(field("@SUM(A1)"), "\"'@SUM(A1)\"");
        assert_eq!(field("-A1"), "\"'-A1\"");
        assert_eq!(field("-30,05"), "\"-30,05\"");
        assert_eq!(field("plain"), "\"plain\"");
        assert_eq!(reais(-5), "-0,05");
        assert_eq!(reais(123_456_789), "1234567,89");
    }
}
