use super::*;

fn bucket(capacity: u32, refill_every_ms: i64, max_keys: usize) -> Buckets {
    Buckets::new(BucketConfig {
        capacity,
        refill_every_ms,
        max_keys,
    })
}

#[test]
fn a_bucket_pays_its_burst_then_refills_at_its_rate() {
    let b = bucket(10, 1_000, 10);
    assert_eq!(b.tokens("a", 0), 10, "a bucket never seen is full");
    for _ in 0..5 {
        assert_eq!(b.take(&["a"], 2, 0), Ok(()));
    }
    assert_eq!(
        b.take(&["a"], 1, 0),
        Err(1_000),
        "empty: one token in a second"
    );
    assert_eq!(b.take(&["a"], 3, 500), Err(2_500));
    assert_eq!(b.take(&["a"], 1, 1_000), Ok(()));
    assert_eq!(b.tokens("a", 1_000), 0);
    assert_eq!(b.tokens("a", 1_000_000), 10, "never beyond full");
    assert_eq!(b.tokens("b", 0), 10, "each key has its own");
}

#[test]
fn several_keys_pay_together_or_not_at_all() {
    let b = bucket(3, 1_000, 10);
    b.take(&["a"], 3, 0).unwrap();
    assert_eq!(b.take(&["a", "b"], 1, 0), Err(1_000));
    assert_eq!(b.tokens("b", 0), 3, "b paid nothing");
}

#[test]
fn refunds_never_overfill() {
    let b = bucket(5, 1_000, 10);
    b.take(&["a"], 2, 0).unwrap();
    b.refund(&["a"], 1, 0);
    assert_eq!(b.tokens("a", 0), 4);
    b.refund(&["a"], 10, 0);
    assert_eq!(b.tokens("a", 0), 5);
}

#[test]
fn memory_is_bounded_and_the_stalest_is_forgotten() {
    let b = bucket(5, 1_000, 2);
    b.take(&["a"], 5, 0).unwrap();
    b.take(&["b"], 5, 1).unwrap();
    b.take(&["c"], 5, 2).unwrap();
    let inner = b.inner.lock().unwrap();
    assert_eq!(inner.buckets.len(), 2);
    assert!(!inner.buckets.contains_key("a"), "the stalest went");
    assert_eq!(inner.by_touch.len(), 2);
    assert_eq!(inner.touched.len(), 2);
}

#[test]
fn a_lookup_that_ends_in_a_payment_costs_less_and_a_missing_key_more() {
    let budgets = ClientBudgets::default();
    let (acct, addr) = ("account:1", "address:10.0.0.1");
    // 100 tokens: 50 lookups of existing keys not paid, or 100 that were paid, or 10 misses.
    let mut unpaid = 0;
    while budgets.lookup(acct, addr, LookupCost::Found, 0).is_ok() {
        unpaid += 1;
    }
    assert_eq!(unpaid, 50);

    let budgets = ClientBudgets::default();
    for _ in 0..1_000 {
        budgets.lookup(acct, addr, LookupCost::Found, 0).unwrap();
        budgets.paid(acct, addr, 0);
    }
    assert_eq!(
        budgets.lookups_by_account.tokens(acct, 0),
        100,
        "lookups that end in payments cost nothing in the end"
    );

    let budgets = ClientBudgets::default();
    let mut missing = 0;
    while budgets.lookup(acct, addr, LookupCost::Missing, 0).is_ok() {
        missing += 1;
    }
    assert_eq!(missing, 10);
    // Then one miss every five minutes (2 tokens a minute).
    assert_eq!(
        budgets.lookup(acct, addr, LookupCost::Missing, 0),
        Err(300_000)
    );
    assert!(budgets
        .lookup(acct, addr, LookupCost::Missing, 300_000)
        .is_ok());
}

#[test]
fn many_accounts_behind_one_address_share_its_budget() {
    let budgets = ClientBudgets::default();
    let addr = "address:10.0.0.1";
    let mut misses = 0;
    for account in 0..100 {
        let acct = format!("account:{account}");
        while budgets.lookup(&acct, addr, LookupCost::Missing, 0).is_ok() {
            misses += 1;
        }
    }
    assert_eq!(
        misses, 30,
        "the address's 300 tokens, whatever the accounts"
    );
    let acct = "account:100";
    assert_eq!(
        budgets.lookup(acct, addr, LookupCost::Missing, 0),
        Err(60_000),
        "one miss a minute from then on"
    );
    assert_eq!(
        budgets.lookups_by_account.tokens(acct, 0),
        100,
        "a refused lookup costs the account nothing"
    );
}

#[test]
fn codes_are_capped_per_hour_and_day_and_voiding_locks_the_address() {
    let budgets = ClientBudgets::default();
    let (acct, addr) = ("account:1", "address:10.0.0.1");
    for _ in 0..5 {
        budgets.code(acct, addr, 0).unwrap();
    }
    let wait = budgets.code(acct, addr, 0).unwrap_err();
    assert_eq!(wait, 720_000, "the sixth in an hour waits 12 minutes");
    // Asking every minute for three days: the first day pays the daily burst and its refills,
    // every later day ten.
    let budgets = ClientBudgets::default();
    let mut per_day = [0; 3];
    for minute in 0..3 * 24 * 60 {
        if budgets.code(acct, addr, minute * 60_000).is_ok() {
            per_day[(minute / (24 * 60)) as usize] += 1;
        }
    }
    assert!(per_day[0] <= 20, "{per_day:?}");
    assert_eq!(per_day[1..], [10, 10], "{per_day:?}");

    let budgets = ClientBudgets::default();
    for _ in 0..3 {
        assert_eq!(budgets.voiding_allowed(addr, 0), Ok(()));
        budgets.voided(addr, 0);
    }
    assert_eq!(budgets.voiding_allowed(addr, 0), Err(8 * HOUR_MS));
    assert!(
        budgets.code("account:2", addr, 0).is_err(),
        "no code to a locked address"
    );
    assert_eq!(budgets.voiding_allowed(addr, 8 * HOUR_MS), Ok(()));
}

#[test]
fn a_shared_address_gets_a_scaled_budget() {
    let budgets = ClientBudgets::with_address_scale(10);
    let addr = "address:10.0.0.1";
    for _ in 0..30 {
        budgets.signup(addr, 0).unwrap();
    }
    assert!(budgets.signup(addr, 0).is_err());
    assert_eq!(budgets.lookups_by_address.tokens(addr, 0), 3_000);
    assert_eq!(
        budgets.lookups_by_account.tokens("account:1", 0),
        100,
        "accounts are not scaled"
    );
}

#[test]
fn signups_are_capped_per_address_successful_or_not() {
    let budgets = ClientBudgets::default();
    let addr = "address:10.0.0.1";
    for _ in 0..3 {
        budgets.signup(addr, 0).unwrap();
    }
    assert_eq!(budgets.signup(addr, 0), Err(1_200_000));
    assert!(budgets.signup("address:10.0.0.2", 0).is_ok());
    // Trying every ten minutes for three days: ten a day once the first day's burst is spent.
    let budgets = ClientBudgets::default();
    let mut per_day = [0; 3];
    for step in 0..3 * 24 * 6 {
        if budgets.signup(addr, step * 600_000).is_ok() {
            per_day[(step / (24 * 6)) as usize] += 1;
        }
    }
    assert!(per_day[0] <= 20, "{per_day:?}");
    assert_eq!(per_day[1..], [10, 10], "{per_day:?}");
}
