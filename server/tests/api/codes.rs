//! Issue 28, first slice: Pix by code. A client's "Receber" codes (QR and copia e cola), paid by
//! a client of another bank who pastes the code; bad codes refused with nothing moved. Five
//! real banks.

use crate::keys::DORA_CPF;
use crate::support::*;
use domain::brcode::crc16;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;

/// `code` with its CRC recomputed after a change: only the field rules can refuse it then.
fn recrc(code: &str) -> String {
    let body = &code[..code.len() - 4];
    format!("{body}{:04X}", crc16(body.as_bytes()))
}

/// Pays `code` (for `amount` when given) with transaction id `tx`, retrying while the
/// consortium is busy.
async fn pay(client: &Client, code: &str, amount: Option<&str>, tx: &str) -> (StatusCode, Value) {
    let mut form = vec![("code", code), ("tx_id", tx)];
    if let Some(a) = amount {
        form.push(("amount", a));
    }
    let start = std::time::Instant::now();
    loop {
        let (s, body) = client.call("pay_code", &form).await;
        if s != StatusCode::SERVICE_UNAVAILABLE || start.elapsed() > SETTLE_PATIENCE {
            return (s, body);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_for_balance(client: &Client, expected: i64) {
    let start = std::time::Instant::now();
    loop {
        let available = client.balances().await.0;
        if available == expected {
            return;
        }
        assert!(
            start.elapsed() < SETTLE_PATIENCE,
            "balance {available}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_receive_code_is_paid_from_another_bank_and_bad_codes_move_nothing() {
    let c = Consortium::start(&[]).await;
    let (dora2, ana4) = (c.client(1), c.client(3));
    assert_eq!(
        dora2
            .open_account("Dóra Dias", DORA_CPF, "dora@example.com")
            .await,
        StatusCode::OK
    );
    assert_eq!(
        ana4.open_account("Ana Lima", ANA_CPF, "ana@example.com")
            .await,
        StatusCode::OK
    );
    let (s, _) = ana4
        .call("deposit", &[("amount", "1.000,00"), ("tx_id", "")])
        .await;
    assert_eq!(s, StatusCode::OK);

    // Dora's codes for R$ 25,50 with a message: one per key, its QR drawn by her bank.
    let (s, page) = dora2
        .call(
            "receive_codes",
            &[("amount", "25,50"), ("message", "Almoço de sábado")],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(page["amount"], 2_550, "{page}");
    let code = &page["codes"][0];
    assert_eq!(code["kind"], "Cpf", "{page}");
    let text = code["text"].as_str().unwrap().to_string();
    assert!(code["svg"].as_str().unwrap().starts_with("<svg"), "{code}");
    assert_eq!(code["message"], "Almoco de sabado");
    let read = domain::BrCode::decode(&text).expect("the bank's own code reads back");
    assert_eq!(read.key(), Some("27182818205"));
    assert_eq!(read.merchant_name, "DORA DIAS");
    assert_eq!(read.amount, Some(domain::Cents::new(2_550)));
    // Messages too long for a code are refused.
    let (s, body) = dora2
        .call("receive_codes", &[("message", &"x".repeat(41))])
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");

    // The page itself, rendered by the bank: the QR code inline, the text to copy.
    let html = dora2
        .http
        .get(format!("{}/receive", dora2.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(r#"class="qr"><svg xmlns="#)
            && html.contains("BR.GOV.BCB.PIX011127182818205"),
        "{html}"
    );
    // A code's QR code stays small enough to send with every page (about 15 kB for 143 bytes).
    assert!(code["svg"].as_str().unwrap().len() < 32_000, "{code}");

    // Ana, at bank 4, pastes it: she sees who receives and how much, then pays.
    let (s, preview) = ana4
        .call("read_code", &[("code", &format!(" {text}\n"))])
        .await;
    assert_eq!(s, StatusCode::OK, "{preview}");
    assert_eq!(preview["receiver"]["name"], "Dóra Dias", "{preview}");
    assert_eq!(preview["receiver"]["key_masked"], "***.828.182-**");
    assert_eq!(preview["receiver"]["bank"]["id"], 2);
    assert_eq!(preview["amount"], 2_550);
    assert_eq!(preview["message"], "Almoco de sabado");
    let tx = preview["tx_id"].as_str().unwrap().to_string();
    // The amount is the code's: another one is refused.
    let (s, body) = pay(&ana4, &text, Some("30,00"), &tx).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("fixed"), "{body}");
    let (s, receipt) = pay(&ana4, &text, None, &tx).await;
    assert_eq!(s, StatusCode::OK, "{receipt}");
    assert_eq!(receipt["amount"], 2_550);
    wait_for_balance(&dora2, 2_550).await;
    // Confirming again (a double click, a retry) pays once.
    let (s, again) = pay(&ana4, &text, None, &tx).await;
    assert!(
        s == StatusCode::OK || s == StatusCode::CONFLICT,
        "{s} {again}"
    );
    assert_eq!(ana4.balances().await.0, 100_000 - 2_550);

    // A code without an amount: the payer says how much.
    let (s, page) = dora2.call("receive_codes", &[]).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let open = page["codes"][0]["text"].as_str().unwrap().to_string();
    assert_eq!(
        domain::BrCode::decode(&open).unwrap().amount,
        None,
        "{open}"
    );
    let (s, body) = pay(&ana4, &open, None, &tx_id(4)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    let (s, receipt) = pay(&ana4, &open, Some("10,00"), &tx_id(4)).await;
    assert_eq!(s, StatusCode::OK, "{receipt}");
    wait_for_balance(&dora2, 3_550).await;
    let ana_before = 100_000 - 3_550;
    assert_eq!(ana4.balances().await.0, ana_before);

    // Bad codes: each refused with 400 and a sentence, when read and when paid; nothing moves.
    let last = text.chars().last().unwrap();
    let other = if last == '0' { '1' } else { '0' };
    let bad_crc = format!("{}{other}", &text[..text.len() - 1]);
    let unknown_gui = recrc(&text.replace("BR.GOV.BCB.PIX", "BR.GOV.BCB.PAY"));
    let three_decimals = recrc(&text.replace("540525.50", "540625.500"));
    // A charge's code (BCB's dynamic format, a location instead of a key) at no member bank.
    let charge = "00020101021226770014BR.GOV.BCB.PIX2555pix.example.com/qr/93598be0-1bd0-4997-8318-81776a1d8a995204000053039865802BR5907EMPRESA6009SAO PAULO62070503***6304EEAB";
    let nobody = domain::BrCode::for_key("nobody@example.com", "NINGUEM", "BRASILIA")
        .encode()
        .unwrap();
    let cases = [
        ("bad CRC", bad_crc, "does not check out"),
        (
            "truncated",
            text[..text.len() - 10].to_string(),
            "incomplete",
        ),
        (
            "oversized",
            format!("{text}{}", "0".repeat(600)),
            "too long",
        ),
        ("unknown GUI", unknown_gui, "not a Pix code"),
        ("three decimals", three_decimals, "amount in the code"),
        (
            "charge elsewhere",
            charge.to_string(),
            "not from a bank of the consortium",
        ),
        ("nobody's key", nobody, "No account receives"),
        ("not a code", "hello".to_string(), "not a Pix Copia e Cola"),
    ];
    for (what, bad, says) in cases {
        let (s, body) = ana4.call("read_code", &[("code", &bad)]).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{what}: {body}");
        assert!(body.to_string().contains(says), "{what}: {body}");
        let (s, body) = pay(&ana4, &bad, Some("1,00"), &tx_id(4)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{what}: {body}");
    }
    assert_eq!(ana4.balances().await, (ana_before, 0));
    assert_eq!(dora2.balances().await, (3_550, 0));

    let html = ana4
        .http
        .get(format!("{}/pay", ana4.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("read-code-form"), "{html}");

    // Without a session, neither page's functions answer.
    // (A client of the support helpers, with cookies of its own and no session.)
    let stranger = c.client(3);
    let (s, _) = stranger.call("read_code", &[("code", &text)]).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = stranger.call("receive_codes", &[]).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}
