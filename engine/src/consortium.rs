//! The port through which the web app reaches the rest of the consortium. The bank node implements
//! it over signed HTTP (`server::consortium`); the app only sees this trait, so it stays free of
//! HTTP clients, and a test or simulator can plug in its own.

use crate::directory::{KeyOp, PortRequest};
use crate::wire::PortPermitAnswer;
use crate::EngineResult;
use domain::consent::Grant;
use domain::dto::{
    BankInfo, BankStatus, LinkedAccount, PacketOutcome, PacketProgress, ReceiverPreview,
};
use domain::packet::Packet;
use domain::{AccountId, BankId, PixKey, TxId};
use std::future::Future;
use std::pin::Pin;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub trait Consortium: Send + Sync + 'static {
    /// Every member, this bank included, in ring order.
    fn banks(&self) -> Vec<BankInfo>;

    /// Who Pix key `key` pays (holder's name, masked document, bank), from this bank's copy of
    /// the consortium's key directory: a lookup asks nobody.
    fn lookup(&self, key: PixKey) -> BoxFuture<'_, EngineResult<ReceiverPreview>>;

    /// Runs a key operation (register or delete a key of `account` at this bank) at every member
    /// bank, like a packet: it commits everywhere or nowhere (see [`crate::directory`]). The
    /// outcome has one leg, whose error says why it did not commit.
    fn submit_key_op(
        &self,
        account: AccountId,
        tx: TxId,
        op: KeyOp,
    ) -> BoxFuture<'_, EngineResult<PacketOutcome>>;

    /// Asks bank `owner`, which owns the key `request` names, for its signed permission to move
    /// it to `request.account` here (its client must have allowed it there); a bank that does
    /// not answer gives none.
    fn port_permit(
        &self,
        owner: BankId,
        request: PortRequest,
    ) -> BoxFuture<'_, EngineResult<PortPermitAnswer>>;

    /// Runs a packet for the client logged in to `account` at this bank: every leg commits or
    /// every leg aborts. The same client submitting the same `tx` again hears the first outcome
    /// (while it runs, or after); another client gets a conflict and no outcome.
    fn submit(
        &self,
        account: AccountId,
        tx: TxId,
        packet: Packet,
    ) -> BoxFuture<'_, EngineResult<PacketOutcome>>;

    /// Runs a devolução for the client logged in to `account` at this bank, once the engine
    /// checked it ([`crate::EngineHandle::plan_return`]): a one-leg packet from that account to
    /// the account at the payer's bank that paid the Pix (that bank finds it; nobody names it).
    /// Retries with the same `tx` behave as for [`Consortium::submit`].
    fn submit_return(
        &self,
        account: AccountId,
        tx: TxId,
        devolution: crate::twopc::Devolution,
    ) -> BoxFuture<'_, EngineResult<PacketOutcome>>;

    /// Runs a charge's payment for the client logged in to `account` at this bank: a one-leg
    /// packet from that account to the charge, at its bank, which checks the charge (open, not
    /// expired, for its amount) and reserves it when it prepares. Retries with the same `tx`
    /// behave as for [`Consortium::submit`].
    fn submit_charge(
        &self,
        account: AccountId,
        tx: TxId,
        payment: crate::twopc::ChargePayment,
    ) -> BoxFuture<'_, EngineResult<PacketOutcome>>;

    /// What bank `bank` says charge `charge` is (this bank's own, from its engine); `None`: no
    /// such charge there.
    fn charge(
        &self,
        bank: BankId,
        charge: domain::charge::ChargeId,
    ) -> BoxFuture<'_, EngineResult<Option<domain::charge::ChargeInfo>>>;

    /// The client's links to accounts at other banks, each with what that bank says of it now
    /// (balances while its consent is active). Nothing is found by CPF/CNPJ.
    fn linked_accounts(
        &self,
        account: AccountId,
    ) -> BoxFuture<'_, EngineResult<Vec<LinkedAccount>>>;

    /// Redeems at `bank` the one-time code its client approved for `account` here: the consent.
    fn redeem(
        &self,
        bank: BankId,
        code: String,
        account: AccountId,
    ) -> BoxFuture<'_, EngineResult<Grant>>;

    /// Who bank `bank` says holds its account `account`, for the link `state` that account
    /// started with this bank; `None` when it does not say (no such link, no answer in time,
    /// an answer out of bounds): the consent page then shows the account without a name.
    fn link_holder(
        &self,
        bank: BankId,
        account: AccountId,
        state: String,
    ) -> BoxFuture<'_, Option<domain::consent::LinkHolder>>;

    /// Where a browser reaches bank `bank`'s app (the membership file's public URL).
    fn public_url(&self, bank: BankId) -> Option<String>;

    /// Every member's public status (offline ones marked so), asked of each just now.
    fn status(&self) -> BoxFuture<'_, Vec<BankStatus>>;

    /// Where packet `tx`, submitted by `account` at this bank, stands (recent packets only).
    fn progress(&self, account: AccountId, tx: &TxId) -> Option<PacketProgress>;
}
