//! The payer's message on a Pix (issue 27, protocol version 15): written on the entries of the
//! parts that carry it, at a participant and inside the bank alike, shown in both statements and
//! on both comprovantes, and kept across a restart.

use super::*;

/// `item`'s parts, each carrying `message`.
fn with_message(mut item: PrepareItem, note: &domain::PixMessage) -> PrepareItem {
    for (_, part) in &mut item.parts {
        if let PartSpec::Debit { message, .. } | PartSpec::Credit { message, .. } = part {
            *message = note.clone();
        }
    }
    item
}

/// The message of each of `account`'s statement lines of `tx`, and of its comprovante's lines.
async fn messages_of(
    engine: &EngineHandle,
    account: AccountId,
    tx: &TxId,
) -> (Vec<String>, Vec<String>) {
    let statement = engine.statement(account, 50).await.unwrap();
    let lines = statement
        .iter()
        .filter(|e| &e.tx_id == tx)
        .map(|e| e.message.to_string())
        .collect();
    let receipt = engine.receipt(account, tx.clone()).await.unwrap();
    let receipt = receipt
        .expect("a party gets its comprovante")
        .lines
        .iter()
        .map(|l| l.message.to_string())
        .collect();
    (lines, receipt)
}

#[tokio::test]
async fn a_message_reaches_both_sides_entries_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, thread) = start(&dir);
    let (ana, beto) = funded(&engine).await;
    let note = domain::PixMessage::parse("  Aluguel de março 🏠  ").unwrap();
    // Across banks: coordinator 1 draws on Ana's account here and pays Beto here, one leg
    // each, both parts with the message.
    let across = engine.new_tx_id();
    let voted = prepare(
        &engine,
        1,
        vec![with_message(item(&across, 300, 300), &note)],
    )
    .await;
    assert_eq!(voted, vec![Vote::Prepared]);
    engine
        .decide(bank(1), vec![decision(&across, true)])
        .await
        .unwrap();
    // Inside this bank: Beto pays Ana back, with a message of his own.
    let thanks = domain::PixMessage::parse("Valeu!").unwrap();
    let inside = engine.new_tx_id();
    engine
        .pix_with(
            inside.clone(),
            beto,
            (pix_key(ANA), Cents::new(100)),
            thanks.clone(),
        )
        .await
        .unwrap();
    // And one without a message, which shows none.
    let plain = engine.new_tx_id();
    engine
        .pix(plain.clone(), ana, pix_key(BETO), Cents::new(1))
        .await
        .unwrap();

    let txs = (across, inside, plain);
    check(&engine, (ana, beto), &txs, "before the restart").await;
    engine.shutdown().await.unwrap();
    drop(engine);
    thread.join().unwrap();
    let (engine, _thread) = start(&dir);
    check(&engine, (ana, beto), &txs, "after the restart").await;
}

/// Ana's and Beto's statements and comprovantes show the message of each of `txs`: the one
/// across banks, the one inside the bank, and none on the Pix sent without one.
async fn check(
    engine: &EngineHandle,
    (ana, beto): (AccountId, AccountId),
    (across, inside, plain): &(TxId, TxId, TxId),
    when: &str,
) {
    let expected = |text: &str| (vec![text.to_string()], vec![text.to_string()]);
    for who in [ana, beto] {
        assert_eq!(
            messages_of(engine, who, across).await,
            expected("Aluguel de março 🏠"),
            "{when}: the message is trimmed, on both sides"
        );
        assert_eq!(
            messages_of(engine, who, inside).await,
            expected("Valeu!"),
            "{when}"
        );
        assert_eq!(
            messages_of(engine, who, plain).await,
            expected(""),
            "{when}"
        );
    }
}
