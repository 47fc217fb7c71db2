//! What every task of a run shares: the options, the people and their Pix keys, the id maker,
//! and the ledger of deposits the audit counts.

use crate::ids::TxIds;
use crate::options::Args;
use crate::people::{by_bank, people, Person};
use domain::Cents;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::sync::Mutex;

pub struct Shared {
    pub args: Args,
    pub ids: TxIds,
    pub people: Vec<Person>,
    /// Per bank (index 0..n for ids 1..=n): the people with an account there.
    pub at_bank: Vec<Vec<usize>>,
    pub ledger: Mutex<Ledger>,
    /// The Pix key of each (person, bank) account: the CPF at the first bank that registered
    /// it, a random key at the other. Absent: the bank has no key directory (an older build
    /// compared in benchmarks), which pays a CPF at the bank named.
    pub keys: Mutex<HashMap<(usize, usize), String>>,
}

/// Every deposit made, as the audit needs it: sure ones summed, unsure ones kept for re-sending.
#[derive(Default)]
pub struct Ledger {
    pub deposited: Cents,
    pub deposits_ok: u64,
    /// Deposits that got no sure answer (503 or transport error after every re-send).
    pub unknown: Vec<PendingDeposit>,
}

impl Ledger {
    /// Counts a deposit the bank confirmed.
    pub fn credit(&mut self, amount: Cents) {
        self.deposited = self
            .deposited
            .checked_add(amount)
            .expect("deposits confirmed in one run stay far below i64::MAX cents");
        self.deposits_ok += 1;
    }
}

pub struct PendingDeposit {
    pub http: reqwest::Client,
    pub bank: usize,
    pub tx_id: String,
    pub amount: Cents,
}

impl Shared {
    /// The run's people and id maker, drawn from `args.seed`.
    pub fn new(args: Args) -> Shared {
        let mut rng = StdRng::seed_from_u64(args.seed);
        let ids = TxIds::new(&mut rng);
        let n = args.banks.len();
        let people = people(n, args.accounts, rng.random_range(100_000_000..900_000_000));
        let at_bank = by_bank(n, &people);
        Shared {
            args,
            ids,
            people,
            at_bank,
            ledger: Mutex::new(Ledger::default()),
            keys: Mutex::new(HashMap::new()),
        }
    }

    pub fn url(&self, bank: usize, path: &str) -> String {
        format!("{}{path}", self.args.banks[bank - 1])
    }

    /// The key that pays `person`'s account at `bank`.
    pub fn key(&self, person: usize, bank: usize) -> String {
        self.keys
            .lock()
            .expect("keys lock")
            .get(&(person, bank))
            .cloned()
            .unwrap_or_else(|| self.people[person].cpf.clone())
    }

    /// A person other than `not` with an account at `bank`.
    pub fn receiver(&self, rng: &mut StdRng, bank: usize, not: usize) -> usize {
        let list = &self.at_bank[bank - 1];
        loop {
            let p = list[rng.random_range(0..list.len())];
            if p != not {
                return p;
            }
        }
    }
}
