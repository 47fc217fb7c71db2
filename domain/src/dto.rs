//! What the bank node sends to the browser. Plain data; no secrets ever appear here.

use crate::consent::{ConsentId, ConsentTerms};
use crate::{AccountId, BankId, Cents, PixMessage, Refusal, TaxId, TxId};
use serde::{Deserialize, Serialize};

/// The bank a page belongs to: its identity and palette key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankInfo {
    pub id: BankId,
    pub name: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccountKind {
    Individual,
    Company,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub name: String,
    pub tax_id: TaxId,
}

/// An account as its owner sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    pub id: AccountId,
    pub kind: AccountKind,
    pub holders: Vec<Holder>,
    pub email: String,
    pub available: Cents,
    pub blocked: Cents,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TxStatus {
    Pending,
    Committed,
    Aborted,
}

impl TxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TxStatus::Pending => "pending",
            TxStatus::Committed => "committed",
            TxStatus::Aborted => "aborted",
        }
    }

    pub fn parse(text: &str) -> Option<TxStatus> {
        match text {
            "pending" => Some(TxStatus::Pending),
            "committed" => Some(TxStatus::Committed),
            "aborted" => Some(TxStatus::Aborted),
            _ => None,
        }
    }
}

/// What an entry in an account's history did to that account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EntryKind {
    Deposit,
    PixOut,
    PixIn,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Deposit => "deposit",
            EntryKind::PixOut => "pix_out",
            EntryKind::PixIn => "pix_in",
        }
    }

    pub fn parse(text: &str) -> Option<EntryKind> {
        match text {
            "deposit" => Some(EntryKind::Deposit),
            "pix_out" => Some(EntryKind::PixOut),
            "pix_in" => Some(EntryKind::PixIn),
            _ => None,
        }
    }

    /// +1 for money coming in, -1 for money going out.
    pub fn sign(self) -> i64 {
        match self {
            EntryKind::Deposit | EntryKind::PixIn => 1,
            EntryKind::PixOut => -1,
        }
    }
}

/// How the money of a deposit came in, as the original system recorded it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DepositMethod {
    /// Dinheiro: cash at a branch or an ATM.
    Cash,
    /// A boleto paid into the account.
    Boleto,
    /// A QR code paid into the account.
    Qr,
}

impl DepositMethod {
    /// Every method, in the order a form offers them.
    pub const ALL: [DepositMethod; 3] = [
        DepositMethod::Cash,
        DepositMethod::Boleto,
        DepositMethod::Qr,
    ];

    /// The code stored and sent by forms.
    pub fn as_str(self) -> &'static str {
        match self {
            DepositMethod::Cash => "cash",
            DepositMethod::Boleto => "boleto",
            DepositMethod::Qr => "qr",
        }
    }

    pub fn parse(text: &str) -> Option<DepositMethod> {
        DepositMethod::ALL.into_iter().find(|m| m.as_str() == text)
    }
}

/// The other side of a transfer, as the account holder is allowed to see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counterparty {
    pub name: String,
    /// Masked for a CPF, full for a CNPJ.
    pub key_masked: String,
    pub bank: BankId,
}

/// One line of an account's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryView {
    pub tx_id: TxId,
    pub kind: EntryKind,
    pub amount: Cents,
    pub status: TxStatus,
    pub counterparty: Option<Counterparty>,
    pub created_ms: i64,
    /// The account's balance (available + blocked) right after this entry, for committed entries.
    pub balance_after: Option<Cents>,
    /// For a devolução (a Pix returned, in full or in part), the original Pix it returns: on
    /// both sides, the account returning it and the account it goes back to.
    #[serde(default)]
    pub returned_for: Option<TxId>,
    /// For a deposit, how the money came in (`None`: not recorded, as before issue 28).
    #[serde(default)]
    pub deposit_method: Option<DepositMethod>,
    /// Why a transfer the account sent was not concluded, where this bank decided it (it
    /// coordinated the packet); the app puts it into words.
    pub reason: Option<Refusal>,
    /// The payer's message on the Pix (empty: none), on both sides.
    #[serde(default, skip_serializing_if = "PixMessage::is_empty")]
    pub message: PixMessage,
}

/// A comprovante: what one transaction did to the client's account, as proof to keep or share.
/// Only a party to it ever gets one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The end-to-end id (the transaction's id at every bank it touched).
    pub tx_id: TxId,
    /// Each transfer of the transaction at this account: one for a Pix, one per leg of a packet
    /// that drew on or paid this account.
    pub lines: Vec<ReceiptLine>,
}

/// One transfer of a comprovante, with both of its parties as each bank recorded them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptLine {
    pub kind: EntryKind,
    pub amount: Cents,
    pub status: TxStatus,
    /// When this bank recorded it (Unix ms).
    pub created_ms: i64,
    /// Who paid (`None` for a deposit).
    pub payer: Option<Counterparty>,
    pub receiver: Counterparty,
    /// Why it was not concluded, when this bank knows (see [`EntryView::reason`]).
    pub reason: Option<Refusal>,
    /// The payer's message (empty: none), as both banks recorded it.
    #[serde(default, skip_serializing_if = "PixMessage::is_empty")]
    pub message: PixMessage,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dashboard {
    pub bank: BankInfo,
    pub account: AccountView,
    /// Newest first, bounded.
    pub recent: Vec<EntryView>,
}

/// Who a Pix key belongs to, shown before a client confirms a transfer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiverPreview {
    pub name: String,
    pub key_masked: String,
    pub bank: BankInfo,
}

/// The result of a transfer as the payer sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferReceipt {
    pub tx_id: TxId,
    pub status: TxStatus,
    pub amount: Cents,
    pub receiver: ReceiverPreview,
}

pub use crate::packet::MAX_PACKET_LEGS;

/// One transfer of a Pix packet, as the client asks for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PacketLeg {
    /// The bank of the client's account that pays this leg.
    pub source_bank: BankId,
    pub receiver_key: crate::PixKey,
    pub receiver_bank: BankId,
    pub amount: Cents,
    /// The payer's message to this leg's receiver (empty: none).
    #[serde(default, skip_serializing_if = "PixMessage::is_empty")]
    pub message: PixMessage,
}

/// The fate of one leg of a packet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegOutcome {
    pub status: TxStatus,
    /// Why this leg was refused (only on the leg that failed); the app puts it into words.
    pub error: Option<Refusal>,
    pub receiver: Option<Counterparty>,
    pub amount: Cents,
}

/// The outcome of a packet (a single inter-bank Pix is a packet of one leg): every leg committed,
/// or every leg aborted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PacketOutcome {
    pub tx_id: TxId,
    pub status: TxStatus,
    pub legs: Vec<LegOutcome>,
}

impl PacketOutcome {
    /// The first failure, for a one-line message.
    pub fn failure(&self) -> Option<(usize, Refusal)> {
        self.legs
            .iter()
            .enumerate()
            .find_map(|(i, l)| l.error.map(|e| (i, e)))
    }
}

/// One of the client's links to an account at another bank: the consent that bank holds, and
/// what that bank says of the account now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkedAccount {
    pub bank: BankInfo,
    pub consent: ConsentId,
    /// The account at that bank and its holder's name, as that bank told it.
    pub account: AccountId,
    pub owner_name: String,
    pub terms: ConsentTerms,
    pub status: LinkStatus,
    /// Balances, while the consent is active and that bank answers.
    pub available: Option<Cents>,
    pub blocked: Option<Cents>,
}

/// Where a link stands, as the bank holding the money answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LinkStatus {
    Active,
    /// Revoked or expired at that bank (it no longer lets this link draw).
    Ended,
    /// That bank did not answer just now.
    Unreachable,
}

/// One bank as the consortium status page and the bank selector show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BankStatus {
    pub bank: BankInfo,
    /// Where a browser reaches this bank's app.
    pub url: String,
    /// Answered the status request just now.
    pub online: bool,
    pub holding: bool,
    pub epoch_counter: u64,
    pub epoch_origin: Option<BankId>,
    pub visits: u64,
    /// Token visits per second at this bank over the last measured second.
    pub rotations_per_s: f64,
    pub packets_in_flight: u64,
    pub decisions_undelivered: u64,
}

/// Where one leg of a packet stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LegState {
    /// Waiting for the token, or for the banks' votes.
    Waiting,
    /// Every bank of this leg has reserved its part.
    Prepared,
    /// A bank of this leg refused (or did not answer).
    Refused,
    Committed,
    Aborted,
}

/// A packet's progress, for the live view while it runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PacketProgress {
    pub tx_id: TxId,
    pub legs: Vec<LegState>,
    pub done: bool,
}

/// A code to receive a Pix at one of the client's keys: the "Receber" page shows one per key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiveCode {
    /// The key as its owner sees it, and in canonical form.
    pub key_shown: String,
    pub key: String,
    pub kind: crate::KeyKind,
    /// The "Pix Copia e Cola" text (a [`crate::BrCode`]).
    pub text: String,
    /// The message the code carries for the payer (accents taken off; shortened when the key
    /// leaves the code less room).
    pub message: Option<String>,
    /// The same code as a QR code: an SVG document drawn by the bank (only `<svg>`, `<rect>`
    /// and `<path>`, no script, no text from the client).
    pub svg: String,
}

/// The "Receber" page: a code per key of the client's, all for the same amount and message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivePage {
    pub codes: Vec<ReceiveCode>,
    /// `None`: the payer chooses.
    pub amount: Option<Cents>,
}

/// A pasted code, read and its key looked up: what the payer confirms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodePreview {
    /// The code as read (without surrounding white space); confirming sends it back and the
    /// bank reads it again.
    pub code: String,
    pub receiver: ReceiverPreview,
    /// The amount the code fixes (then the payer cannot change it), or `None`.
    pub amount: Option<Cents>,
    /// The receiver's message in the code, if any.
    pub message: Option<String>,
    /// The name the code gives for its receiver (the directory's name is `receiver.name`).
    pub merchant_name: String,
    /// The id this payment will carry: confirming twice pays once.
    pub tx_id: TxId,
    /// For a charge's code: until when it may be paid (its amount is fixed and `message` is
    /// its description).
    #[serde(default)]
    pub charge_expires_ms: Option<i64>,
}
