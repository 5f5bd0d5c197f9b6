//! The scripted episodes `memory demo` records: a dozen realistic agent runs across three
//! domains (a Rust web API, a Python data pipeline, Kubernetes/Terraform infrastructure),
//! with successes, partial successes, failures and an abstention.

/// A step: tool, action, status (`ok`, `err`, `timeout`), output or error text, latency in ms.
pub type DemoStep = (&'static str, &'static str, &'static str, &'static str, u64);

/// How a demo episode ends.
pub enum DemoOutcome {
    /// Done, with a verdict.
    Success(&'static str),
    /// Partly done: verdict, parts done, parts not done.
    Partial(
        &'static str,
        &'static [&'static str],
        &'static [&'static str],
    ),
    /// Not done: reason.
    Failure(&'static str),
    /// Declined: reason.
    Abstained(&'static str),
}

/// One scripted episode.
pub struct DemoEpisode {
    /// The task.
    pub task: &'static str,
    /// Task type name.
    pub task_type: &'static str,
    /// Domain, language, framework.
    pub context: (&'static str, &'static str, &'static str),
    /// The steps.
    pub steps: &'static [DemoStep],
    /// The ending.
    pub outcome: DemoOutcome,
}

/// The new task the demo retrieves experience for, with its context.
pub const NEW_TASK: (&str, &str, (&str, &str, &str)) = (
    "POST /users returns 500 instead of 409 when the email is already taken",
    "debugging",
    ("web-api", "rust", "axum"),
);

/// The scripted episodes, in the order they are recorded.
pub const EPISODES: &[DemoEpisode] = &[
    DemoEpisode {
        task: "Fix 500 error on POST /orders when the customer id does not exist",
        task_type: "debugging",
        context: ("web-api", "rust", "axum"),
        steps: &[
            (
                "cargo test",
                "run the orders tests",
                "err",
                "test orders::create_unknown_customer failed: expected 404, got 500",
                8_200,
            ),
            (
                "read_file",
                "read src/routes/orders.rs",
                "ok",
                "handler maps every sqlx::Error to 500",
                40,
            ),
            (
                "edit_file",
                "map sqlx::Error::RowNotFound to 404 Not Found",
                "ok",
                "1 file changed",
                120,
            ),
            (
                "cargo test",
                "rerun the orders tests",
                "ok",
                "test result: ok. 42 passed",
                7_900,
            ),
        ],
        outcome: DemoOutcome::Success(
            "Unknown customers now get 404; database errors are mapped per variant",
        ),
    },
    DemoEpisode {
        task: "Login endpoint returns 401 for valid tokens after the signing key was rotated",
        task_type: "debugging",
        context: ("web-api", "rust", "axum"),
        steps: &[
            (
                "http_request",
                "POST /login with a fresh token",
                "err",
                "401 Unauthorized: InvalidSignature",
                90,
            ),
            (
                "grep",
                "search for jwt decoding",
                "ok",
                "src/auth.rs:41 decode(&token, &KEY)",
                30,
            ),
            (
                "read_file",
                "read src/auth.rs",
                "ok",
                "only the first key of the JWKS is loaded",
                35,
            ),
            (
                "edit_file",
                "try every key of the JWKS whose kid matches",
                "ok",
                "1 file changed",
                150,
            ),
            (
                "cargo test",
                "run auth tests",
                "ok",
                "test result: ok. 17 passed",
                6_100,
            ),
            ("http_request", "POST /login again", "ok", "200 OK", 80),
        ],
        outcome: DemoOutcome::Success("Tokens signed with any current JWKS key are accepted"),
    },
    DemoEpisode {
        task: "Add integration tests for pagination of GET /orders",
        task_type: "testing",
        context: ("web-api", "rust", "axum"),
        steps: &[
            (
                "edit_file",
                "write tests/pagination.rs with 5 cases",
                "ok",
                "1 file added",
                300,
            ),
            ("cargo test", "run the new tests", "timeout", "", 120_000),
            (
                "cargo test",
                "rerun with --test-threads=1 to avoid the shared test database lock",
                "ok",
                "test result: ok. 5 passed",
                9_400,
            ),
        ],
        outcome: DemoOutcome::Success(
            "Five pagination tests added; they share one database so run single-threaded",
        ),
    },
    DemoEpisode {
        task: "Duplicate signup with an existing email crashes the users handler with a unique constraint violation",
        task_type: "debugging",
        context: ("web-api", "rust", "axum"),
        steps: &[
            (
                "cargo test",
                "reproduce with users::duplicate_email",
                "err",
                "thread panicked at src/routes/users.rs:88: called `Result::unwrap()` on UniqueViolation",
                7_700,
            ),
            (
                "read_file",
                "read src/routes/users.rs",
                "ok",
                "insert result is unwrapped",
                30,
            ),
            (
                "edit_file",
                "return 409 Conflict on a unique violation of users_email_key",
                "ok",
                "1 file changed",
                140,
            ),
            (
                "cargo test",
                "rerun users tests",
                "ok",
                "test result: ok. 23 passed",
                7_500,
            ),
        ],
        outcome: DemoOutcome::Success(
            "Duplicate emails now return 409 Conflict with a clear message",
        ),
    },
    DemoEpisode {
        task: "Flaky test orders::concurrent_checkout fails intermittently in CI",
        task_type: "debugging",
        context: ("web-api", "rust", "axum"),
        steps: &[
            (
                "cargo test",
                "run the test 50 times",
                "ok",
                "50 passed",
                60_000,
            ),
            (
                "ci_logs",
                "read the failing CI run",
                "ok",
                "deadlock detected at src/orders.rs:88",
                400,
            ),
            (
                "cargo test",
                "run under load with --test-threads=8",
                "ok",
                "200 passed",
                90_000,
            ),
            (
                "cargo test",
                "run again in release mode",
                "ok",
                "200 passed",
                95_000,
            ),
        ],
        outcome: DemoOutcome::Failure("Could not reproduce the deadlock locally"),
    },
    DemoEpisode {
        task: "Nightly ETL job fails with KeyError 'customer_id' after the upstream schema change",
        task_type: "debugging",
        context: ("data-pipeline", "python", "airflow"),
        steps: &[
            (
                "airflow logs",
                "read the failed task log",
                "ok",
                "KeyError: 'customer_id' in transform_orders",
                600,
            ),
            (
                "read_file",
                "read dags/transform.py",
                "ok",
                "columns are addressed by the old names",
                40,
            ),
            (
                "edit_file",
                "map customer_ref to customer_id in the column mapping",
                "ok",
                "1 file changed",
                110,
            ),
            (
                "pytest",
                "run tests/test_transform.py",
                "ok",
                "12 passed",
                3_200,
            ),
            (
                "airflow trigger",
                "rerun the DAG for yesterday",
                "ok",
                "success",
                240_000,
            ),
        ],
        outcome: DemoOutcome::Success("Transform reads the renamed column; backfilled yesterday"),
    },
    DemoEpisode {
        task: "Add a deduplication step to the events ingestion pipeline",
        task_type: "code_generation",
        context: ("data-pipeline", "python", "pandas"),
        steps: &[
            (
                "read_file",
                "read pipelines/events.py",
                "ok",
                "events are appended without a key",
                40,
            ),
            (
                "edit_file",
                "drop_duplicates on (event_id, source) before writing",
                "ok",
                "1 file changed",
                200,
            ),
            (
                "pytest",
                "run the pipeline tests",
                "err",
                "AssertionError: expected 3 rows, got 4",
                2_900,
            ),
            (
                "edit_file",
                "normalise source to lower case before deduplicating",
                "ok",
                "1 file changed",
                90,
            ),
            (
                "pytest",
                "rerun the pipeline tests",
                "ok",
                "18 passed",
                2_800,
            ),
        ],
        outcome: DemoOutcome::Success("Duplicate events are dropped on (event_id, source)"),
    },
    DemoEpisode {
        task: "ETL job runs out of memory loading the orders CSV export",
        task_type: "debugging",
        context: ("data-pipeline", "python", "pandas"),
        steps: &[
            (
                "python",
                "run load_orders.py on the full export",
                "err",
                "MemoryError: Unable to allocate 7.45 GiB",
                41_000,
            ),
            (
                "edit_file",
                "read the CSV with chunksize=100_000 and explicit dtypes",
                "ok",
                "1 file changed",
                180,
            ),
            (
                "python",
                "rerun load_orders.py",
                "ok",
                "loaded 48,113,920 rows",
                95_000,
            ),
        ],
        outcome: DemoOutcome::Success("Loads in chunks with a flat memory profile"),
    },
    DemoEpisode {
        task: "Investigate why the daily revenue report is 3% lower than the finance numbers",
        task_type: "analysis",
        context: ("data-pipeline", "python", "pandas"),
        steps: &[
            (
                "sql_query",
                "compare daily totals with the finance export",
                "ok",
                "differences cluster around midnight",
                2_100,
            ),
            (
                "read_file",
                "read reports/revenue.py",
                "ok",
                "timestamps are truncated in local time",
                50,
            ),
            (
                "sql_query",
                "recompute with UTC day boundaries",
                "ok",
                "gap drops to 0.4%",
                2_300,
            ),
        ],
        outcome: DemoOutcome::Partial(
            "Found the timezone bug; a 0.4% gap remains",
            &["timezone boundaries fixed"],
            &["remaining gap from refunds not explained"],
        ),
    },
    DemoEpisode {
        task: "Kubernetes deployment stuck in CrashLoopBackOff after a config change",
        task_type: "debugging",
        context: ("infra", "yaml", "kubernetes"),
        steps: &[
            (
                "kubectl get pods",
                "list api pods",
                "ok",
                "api-7d9f 0/1 CrashLoopBackOff",
                700,
            ),
            (
                "kubectl logs",
                "read the crashing container's log",
                "ok",
                "panic: missing env DATABASE_URL",
                900,
            ),
            (
                "edit_file",
                "restore DATABASE_URL from the secret in k8s/deployment.yaml",
                "ok",
                "1 file changed",
                100,
            ),
            (
                "kubectl apply",
                "apply the deployment",
                "ok",
                "deployment.apps/api configured",
                1_500,
            ),
            (
                "kubectl rollout status",
                "wait for the rollout",
                "ok",
                "successfully rolled out",
                45_000,
            ),
        ],
        outcome: DemoOutcome::Success(
            "Pods healthy after restoring the DATABASE_URL secret reference",
        ),
    },
    DemoEpisode {
        task: "Add a Terraform module for the staging Postgres instance",
        task_type: "code_generation",
        context: ("infra", "hcl", "terraform"),
        steps: &[
            (
                "edit_file",
                "write modules/postgres/main.tf",
                "ok",
                "3 files added",
                400,
            ),
            (
                "terraform plan",
                "plan staging",
                "err",
                "Error: Unsupported argument \"storage_encrypted\" at modules/postgres/main.tf:14",
                12_000,
            ),
            (
                "edit_file",
                "pin the aws provider to ~> 5.0",
                "ok",
                "1 file changed",
                80,
            ),
            (
                "terraform plan",
                "plan staging again",
                "ok",
                "Plan: 4 to add, 0 to change, 0 to destroy",
                11_000,
            ),
            (
                "terraform apply",
                "apply to staging",
                "ok",
                "Apply complete! Resources: 4 added",
                380_000,
            ),
        ],
        outcome: DemoOutcome::Success("Staging Postgres managed by Terraform"),
    },
    DemoEpisode {
        task: "TLS certificate renewal failing for the public API domain",
        task_type: "debugging",
        context: ("infra", "yaml", "kubernetes"),
        steps: &[
            (
                "kubectl describe certificate",
                "inspect the cert-manager certificate",
                "ok",
                "DNS-01 challenge pending",
                800,
            ),
            (
                "dig",
                "check the _acme-challenge TXT record",
                "timeout",
                "",
                30_000,
            ),
            (
                "dig",
                "check the TXT record from another resolver",
                "timeout",
                "",
                30_000,
            ),
        ],
        outcome: DemoOutcome::Abstained(
            "The DNS provider's API is blocked by the corporate firewall; needs the network team",
        ),
    },
];
