//! Migrations, roles and the data generator against a real PostgreSQL.

use crate::support;

use mcp_host::db::migrate;
use mcp_host::seed::{self, SeedOptions};
use support::pg::{TEST_SCALE, TEST_SEED, TestDb, checksums, connect};

#[tokio::test]
async fn migrations_apply_once_and_the_query_role_is_powerless() {
    let db = TestDb::fresh().await;
    let admin = db.admin().await;
    // The template was migrated: running again applies nothing.
    let report = migrate::migrate(&admin, db.secret(), None).await.unwrap();
    assert!(report.applied.is_empty());
    assert_eq!(report.already, migrate::MIGRATIONS.len());

    let role = admin
        .query_one(
            "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolinherit,
                    (SELECT count(*) FROM pg_auth_members WHERE member = r.oid)
             FROM pg_roles r WHERE rolname = 'zava_query'",
            &[],
        )
        .await
        .unwrap();
    assert!(!role.get::<_, bool>(0), "not superuser");
    assert!(!role.get::<_, bool>(1), "no BYPASSRLS");
    assert!(!role.get::<_, bool>(2) && !role.get::<_, bool>(3));
    assert_eq!(role.get::<_, i64>(5), 0, "member of no role");
    let owned: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner
             WHERE r.rolname = 'zava_query'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(owned, 0, "owns nothing");
    let unforced: Vec<String> = admin
        .query(
            "SELECT relname::text FROM pg_class WHERE relnamespace = 'retail'::regnamespace
             AND relkind = 'r' AND NOT (relrowsecurity AND relforcerowsecurity)",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(unforced.is_empty(), "RLS not forced on {unforced:?}");
    // Only SELECT is granted.
    let writable: i64 = admin
        .query_one(
            "SELECT count(*) FROM information_schema.role_table_grants
             WHERE grantee = 'zava_query' AND privilege_type <> 'SELECT'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(writable, 0);

    // The manager map and the keys are out of the query role's reach.
    let query = connect(&db.query_config()).await;
    for sql in [
        "SELECT * FROM rls_private.principals",
        "SELECT * FROM rls_private.keys",
        "SELECT rls_private.mac('x')",
    ] {
        let error = query.simple_query(sql).await.unwrap_err();
        assert!(
            error
                .as_db_error()
                .unwrap()
                .message()
                .contains("permission denied"),
            "{sql}: {error}"
        );
    }
    // Without the gate secret, no scope can be entered.
    let error = query
        .simple_query(
            "SELECT rls.enter('guess', (extract(epoch FROM now()) * 1000)::bigint, \
             '00000000-0000-0000-0000-000000000000')",
        )
        .await
        .unwrap_err();
    assert!(
        error
            .as_db_error()
            .unwrap()
            .message()
            .contains("gate secret")
    );
}

#[tokio::test]
async fn a_wrong_gate_secret_is_a_clear_unavailable_error() {
    let db = TestDb::fresh().await;
    let caller = mcp_host::db::caller::CallerDb::new(
        db.query_config(),
        "not-the-secret".into(),
        Default::default(),
        2,
    )
    .unwrap();
    let error = caller
        .query(uuid::Uuid::nil(), "SELECT 1", &[], 1)
        .await
        .unwrap_err();
    let text = format!("{error:?}");
    assert!(
        text.contains("Unavailable") && text.contains("gate secret"),
        "{text}"
    );
}

#[tokio::test]
async fn the_same_seed_loads_the_same_data() {
    let a = TestDb::fresh().await;
    let b = TestDb::fresh().await;
    let (admin_a, admin_b) = (a.admin().await, b.admin().await);
    let options = SeedOptions {
        seed: TEST_SEED,
        scale: TEST_SCALE,
        replace: true,
        progress: false,
    };
    // Refuses to load over existing data unless asked.
    let refused = seed::seed(
        &admin_a,
        SeedOptions {
            replace: false,
            ..options
        },
    )
    .await;
    assert!(refused.unwrap_err().to_string().contains("--replace"));
    let report = seed::seed(&admin_a, options).await.unwrap();
    seed::seed(&admin_b, options).await.unwrap();
    assert_eq!(checksums(&admin_a).await, checksums(&admin_b).await);
    let orders = report.rows.iter().find(|(t, _)| *t == "orders").unwrap().1;
    assert!(
        (3_000..=5_000).contains(&orders),
        "{orders} orders at scale {TEST_SCALE}"
    );
    // A different seed gives different orders.
    seed::seed(
        &admin_b,
        SeedOptions {
            seed: TEST_SEED + 1,
            ..options
        },
    )
    .await
    .unwrap();
    assert_ne!(checksums(&admin_a).await, checksums(&admin_b).await);
}

#[tokio::test]
async fn values_round_trip_through_postgres_with_their_types() {
    use mcp_host::bindings::zava::mcp::types::SqlValue as V;
    let db = TestDb::fresh().await;
    let caller = mcp_host::db::caller::CallerDb::new(
        db.query_config(),
        db.secret().to_string(),
        Default::default(),
        2,
    )
    .unwrap();
    let params = vec![
        V::Int(-42),
        V::Numeric("12345678901234567890.0123".into()),
        V::Text("Zava's \"DIY\" ✓".into()),
        V::Date("2024-02-29".into()),
        V::Timestamp("2024-02-29T13:14:15.5Z".into()),
        V::Uuid("f47ac10b-58cc-4372-a567-0e02b2c3d479".into()),
        V::Json(r#"{"a": [1, 2]}"#.into()), // jsonb's own spelling
        V::Vector(vec![0.5, -1.0, 2.25]),
        V::Boolean(true),
        V::Float(0.1),
        V::Null,
    ];
    let set = caller
        .query(
            uuid::Uuid::nil(),
            "SELECT $1::int8 AS i, $2::numeric AS n, $3::text AS t, $4::date AS d, $5::timestamptz AS ts,
                    $6::uuid AS u, $7::jsonb AS j, $8::vector AS v, $9::bool AS b, $10::float8 AS f,
                    $11::int4 AS z, ARRAY[1, 2, NULL]::int4[] AS a, interval '1 day 02:00' AS iv,
                    '2024-02-29 13:14:15'::timestamp AS local",
            &params,
            10,
        )
        .await
        .unwrap();
    let types: Vec<&str> = set.columns.iter().map(|c| c.type_name.as_str()).collect();
    assert_eq!(
        types,
        [
            "int8",
            "numeric",
            "text",
            "date",
            "timestamptz",
            "uuid",
            "jsonb",
            "vector",
            "bool",
            "float8",
            "int4",
            "_int4",
            "interval",
            "timestamp"
        ]
    );
    let row = &set.rows[0];
    assert_eq!(row[..11], params[..]);
    assert_eq!(row[11], V::Json("[1,2,null]".into()));
    assert_eq!(row[12], V::Text("1 day 02:00:00".into()));
    assert_eq!(row[13], V::Timestamp("2024-02-29T13:14:15".into()));

    // What the `time` crate cannot hold, and a vector for a parameter that is
    // not `vector` (sent as text, which halfvec's input function reads).
    let set = caller
        .query(
            uuid::Uuid::nil(),
            "SELECT 'infinity'::date, '-infinity'::date, 'infinity'::timestamptz,
                    '-infinity'::timestamp, '24:00'::time, $1::halfvec::text",
            &[V::Vector(vec![0.5, -1.0])],
            1,
        )
        .await
        .unwrap();
    assert_eq!(
        set.rows[0],
        [
            V::Date("infinity".into()),
            V::Date("-infinity".into()),
            V::Timestamp("infinity".into()),
            V::Timestamp("-infinity".into()),
            V::Text("24:00:00".into()),
            V::Text("[0.5,-1]".into()),
        ]
    );

    // A value that does not fit its parameter: PostgreSQL's own message.
    let error = caller
        .query(
            uuid::Uuid::nil(),
            "SELECT $1::int4",
            &[V::Text("seven".into())],
            1,
        )
        .await
        .unwrap_err();
    assert!(
        format!("{error:?}").contains("invalid input syntax for type integer"),
        "{error:?}"
    );
    // Placeholders and values must agree.
    let error = caller
        .query(
            uuid::Uuid::nil(),
            "SELECT $1::int4, $2::int4",
            &[V::Int(1)],
            1,
        )
        .await
        .unwrap_err();
    assert!(
        format!("{error:?}").contains("2 parameter placeholder"),
        "{error:?}"
    );
}

/// Managed PostgreSQL (Azure Flexible Server) gives the admin CREATEROLE and
/// CREATEDB, not SUPERUSER. Migrations must still apply there, leave the
/// query role powerless, and Row Level Security must hold.
#[tokio::test]
async fn migrations_apply_as_a_non_superuser_admin_like_managed_servers() {
    let managed = support::pg::Managed::start("zava-managed-", 0.005).await;
    let (admin, secret) = (&managed.admin, managed.secret.clone());

    let role = admin
        .query_one(
            "SELECT rolsuper, rolbypassrls, rolreplication, rolcreaterole, rolcreatedb
             FROM pg_roles WHERE rolname = 'zava_query'",
            &[],
        )
        .await
        .unwrap();
    for i in 0..5 {
        assert!(!role.get::<_, bool>(i), "attribute {i} of zava_query");
    }
    // The query role sees one store through RLS, as with a superuser admin.
    let db = mcp_host::db::caller::CallerDb::with_tls(
        managed.query_config(),
        secret.clone(),
        Default::default(),
        2,
        mcp_host::db::tls::connector(None).unwrap(),
    )
    .unwrap();
    let seattle: uuid::Uuid = support::SEATTLE.parse().unwrap();
    let rows = db
        .query(
            seattle,
            "SELECT DISTINCT store_id FROM retail.orders",
            &[],
            100,
        )
        .await
        .expect("query as Seattle");
    assert_eq!(rows.rows.len(), 1, "{rows:?}");
    // What the database cannot take away without a superuser, and the
    // guard alone therefore refuses (the README quotes these numbers).
    let (functions, relations) = mcp_host::db::privileges::exposure(admin).await.unwrap();
    println!(
        "managed install: {functions} functions and {relations} catalog relations outside the allowlist stay reachable for the query role"
    );
    assert!(functions > 0 && relations > 0);
    // Migrating again is a no-op.
    let again = migrate::migrate(admin, &secret, None).await.unwrap();
    assert!(again.applied.is_empty());
}
